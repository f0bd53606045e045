#if canImport(Glibc)
import Glibc
#endif
import ToolformerProtocol
import ToolformerTesting

/// What the numbers were measured on; ratios travel between machines, absolute numbers do not.
struct Machine {
    var processors: Int
    var cpuModel: String
    var kernel: String
    var loadAverage: String

    static func current() -> Machine {
        let cpuinfo = (try? TestDaemon.readFile("/proc/cpuinfo")) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingSpaces } ?? "unknown"
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: &names.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Machine(
            processors: sysconf(Int32(_SC_NPROCESSORS_ONLN)), cpuModel: model, kernel: "Linux \(release) \(machine)",
            loadAverage: loadAverage())
    }

    /// `/proc/loadavg`'s first three fields: how busy the machine was (other builds, other benchmarks).
    static func loadAverage() -> String {
        let text = (try? TestDaemon.readFile("/proc/loadavg")) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    var json: JSONValue {
        ["nproc": .int(Int64(processors)), "cpu": .string(cpuModel), "kernel": .string(kernel), "loadAverage": .string(loadAverage)]
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
