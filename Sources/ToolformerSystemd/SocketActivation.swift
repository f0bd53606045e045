internal import CSystemd
internal import Glibc

/// A listening socket systemd passed to the daemon (`ListenStream=` of toolformerd.socket).
public struct ListenedSocket: Sendable, Equatable {
    /// The descriptor, already `FD_CLOEXEC`. Whoever adopts it owns it.
    public var fd: Int32
    /// `FileDescriptorName=` of the socket unit; systemd's default is the socket unit's name.
    public var name: String

    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }
}

/// Socket activation (`sd_listen_fds(3)`).
public enum SocketActivation {
    /// The sockets systemd passed, or `[]` when the daemon was not socket-activated (or
    /// `LISTEN_PID` names another process).
    ///
    /// Call it once, early. It removes `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` from the
    /// environment so that tools the daemon starts never believe the sockets are theirs.
    public static func takeListenedSockets() -> [ListenedSocket] {
        defer {
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDNAMES")
        }
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        // 0: libsystemd leaves the environment alone; we unset it ourselves above, every time,
        // including when LISTEN_PID did not match.
        let count = sd_listen_fds_with_names(0, &names)
        defer {
            if let names {
                for index in 0..<Int(max(count, 0)) { free(names[index]) }
                free(names)
            }
        }
        guard count > 0 else { return [] }

        return (0..<count).map { index in
            let fd = SD_LISTEN_FDS_START + index
            // Exec tools are children: an inherited listener would keep the socket alive after
            // the daemon exits and let a tool accept the daemon's clients.
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
            let name = names?[Int(index)].map { String(cString: $0) } ?? "unknown"
            return ListenedSocket(fd: fd, name: name)
        }
    }
}
