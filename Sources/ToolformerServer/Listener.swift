#if canImport(Glibc)
import Glibc
#endif
import ToolformerProtocol

/// Where the server listens.
public enum Listener: Sendable, CustomStringConvertible {
    /// Bind this path, with this mode and group (`""`: the daemon's own).
    case path(String, mode: UInt32, group: String)
    /// Adopt a listening socket systemd passed (socket activation).
    case inherited(fd: Int32, name: String)

    public var description: String {
        switch self {
        case .path(let path, _, _): path
        case .inherited(let fd, let name): "inherited fd \(fd) (\(name))"
        }
    }
}

/// Why the server could not listen.
public struct ListenError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var errno: Int32
    public var description: String { "cannot listen on \(path): \(reason)" }
}

enum SocketFile {
    /// Creates the parent directory, and removes a stale socket file only when nothing answers on it.
    static func prepare(_ path: String) throws(ListenError) {
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty { try makeDirectories(parent, path: path) }

        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw ListenError(path: path, reason: "the path exists and is not a socket; refusing to replace it", errno: EEXIST)
        }
        if answers(path) {
            throw ListenError(path: path, reason: "another daemon is already listening there", errno: EADDRINUSE)
        }
        unlink(path)
    }

    private static func makeDirectories(_ directory: String, path: String) throws(ListenError) {
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw ListenError(path: path, reason: "cannot create \(current): \(String(cString: strerror(errno)))", errno: errno)
            }
        }
    }

    private static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnixSocketAddress(path) { connect(fd, $0, $1) } == 0
    }

    /// Gives the socket file its configured mode and group.
    static func applyPermissions(_ path: String, mode: UInt32, group: String) throws(ListenError) {
        if chmod(path, mode_t(mode)) != 0 {
            throw ListenError(path: path, reason: "chmod failed: \(String(cString: strerror(errno)))", errno: errno)
        }
        guard !group.isEmpty else { return }
        guard let gid = AccessPolicy.gid(named: group) else {
            throw ListenError(path: path, reason: "socket_group \(group) does not exist", errno: ENOENT)
        }
        if chown(path, uid_t.max, gid) != 0 {
            throw ListenError(path: path, reason: "chown to group \(group) failed: \(String(cString: strerror(errno)))", errno: errno)
        }
    }
}
