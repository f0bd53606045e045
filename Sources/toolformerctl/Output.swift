#if canImport(Glibc)
import Glibc
#endif

/// Writes to fds 1 and 2 (Swift 6 refuses C's `stdout`/`stderr` globals).
enum Output {
    static func line(_ text: String) { write(fd: 1, text + "\n") }
    static func error(_ text: String) { write(fd: 2, "toolformerctl: " + text + "\n") }

    /// `text` and a newline unless it already ends with one.
    static func block(_ text: String) { write(fd: 1, text.hasSuffix("\n") || text.isEmpty ? text : text + "\n") }

    static func write(fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Whether stdout is a terminal: the live display is for people, plain lines for pipes.
    static var isTerminal: Bool { isatty(1) == 1 }
}
