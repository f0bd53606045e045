#if canImport(Glibc)
import Glibc
#endif

/// Where the human-readable text goes: stdout, or stderr when stdout carries `--json`.
struct Output: Sendable {
    var tablesToStderr: Bool

    func table(_ text: String) { write(tablesToStderr ? 2 : 1, text + "\n") }
    func progress(_ text: String) { write(2, text + "\n") }

    func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }
}
