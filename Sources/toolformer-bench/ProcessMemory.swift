#if canImport(Glibc)
import Glibc
#endif
import ToolformerTesting

/// A process's memory, from `/proc/PID/status`.
struct ProcessMemory {
    /// VmRSS, RssAnon and VmHWM in bytes.
    var rss: Int
    var anonymous: Int
    var peak: Int

    static func read(pid: pid_t) -> ProcessMemory? {
        guard let status = try? TestDaemon.readFile("/proc/\(pid)/status"), !status.isEmpty else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            let digits = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first
            return digits.flatMap { Int($0) }.map { $0 * 1024 }
        }
        guard let rss = field("VmRSS") else { return nil }
        return ProcessMemory(rss: rss, anonymous: field("RssAnon") ?? 0, peak: field("VmHWM") ?? 0)
    }
}
