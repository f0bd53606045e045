import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding and reading the files. POSIX calls rather than Foundation's, so that an error says
/// exactly what went wrong ("Permission denied") instead of a localized paragraph.
enum ConfigFiles {
    /// Far beyond any hand-written configuration; stops a wrong path (a log, a device) early.
    static let maxFileBytes = 16 << 20

    /// The `tools.d` folder beside a main file.
    static func dropInDirectory(beside path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "tools.d" }
        let directory = path[..<slash]
        return directory.isEmpty ? "/tools.d" : directory + "/tools.d"
    }

    /// The `*.toml` files of `tools.d`, in byte order of name; none when the folder is absent.
    /// Hidden files are skipped, as a shell's `*.toml` would, so editors' swap files stay out.
    static func dropIns(beside path: String) throws(ConfigError) -> [String] {
        let directory = Self.dropInDirectory(beside: path)
        var info = stat()
        guard stat(directory, &info) == 0 else {
            let code = errno
            if code == ENOENT { return [] }
            throw Self.unreadable(directory, "cannot read: " + Self.describe(code))
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw Self.unreadable(directory, "is not a folder (tools.d must be one)")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw Self.unreadable(directory, "cannot be listed")
        }
        return names
            .filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { directory + "/" + $0 }
    }

    /// The whole file as UTF-8 text.
    static func contents(of path: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.unreadable(path, "cannot read: " + Self.describe(errno)) }
        defer { close(fd) }

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw Self.unreadable(path, "cannot read: " + Self.describe(code))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > Self.maxFileBytes {
                throw Self.unreadable(path, "is larger than \(Self.maxFileBytes >> 20) MiB")
            }
        }
        return try Self.text(bytes, file: path)
    }

    /// TOML is UTF-8, and the TOML library reads a C string, so a NUL would silently end the file.
    static func text(_ bytes: [UInt8], file: String) throws(ConfigError) -> String {
        guard !bytes.contains(0) else { throw Self.unreadable(file, "contains a NUL byte") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Self.unreadable(file, "is not UTF-8 text")
        }
        return text
    }

    private static func unreadable(_ path: String, _ reason: String) -> ConfigError {
        ConfigError(.unreadable, file: path, key: "", reason: reason)
    }

    private static func describe(_ code: Int32) -> String {
        switch code {
        case ENOENT: "no such file or folder"
        case EACCES: "permission denied"
        case EISDIR: "is a folder"
        case ENOTDIR: "a part of the path is not a folder"
        default: String(cString: strerror(code))
        }
    }
}
