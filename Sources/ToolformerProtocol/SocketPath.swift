#if canImport(Glibc)
public import Glibc
#endif

/// Where the daemon listens and where clients look, as the protocol document defines it.
public enum SocketPath {
    public static let system = "/run/toolformer/toolformerd.sock"

    /// The path a daemon binds when neither `--socket` nor `TOOLFORMER_SOCKET` names one: the system
    /// path as root or under systemd, else the user's runtime directory.
    public static func daemonDefault(environment: [String: String], uid: UInt32) -> String {
        if let explicit = environment["TOOLFORMER_SOCKET"], !explicit.isEmpty { return explicit }
        let underSystemd = environment["INVOCATION_ID"] != nil || environment["NOTIFY_SOCKET"] != nil
        if uid == 0 || underSystemd { return system }
        return userPath(environment: environment, uid: uid)
    }

    /// The path a client tries: `TOOLFORMER_SOCKET`; else root uses the system path; anyone else uses
    /// their runtime directory's socket if it exists, else the system one (a daemon run by systemd).
    public static func clientDefault(environment: [String: String], uid: UInt32) -> String {
        if let explicit = environment["TOOLFORMER_SOCKET"], !explicit.isEmpty { return explicit }
        if uid == 0 { return system }
        let user = userPath(environment: environment, uid: uid)
        if access(user, F_OK) == 0 { return user }
        return system
    }

    static func userPath(environment: [String: String], uid: UInt32) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime + "/toolformer/toolformerd.sock"
        }
        return "/tmp/toolformer-\(uid)/toolformerd.sock"
    }
}

/// The process environment as a dictionary.
public func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let pair = String(cString: entry)
        if let equals = pair.firstIndex(of: "=") {
            result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        pointer += 1
    }
    return result
}

/// Calls `body` with a `sockaddr_un` for `path` (as `sockaddr` and its length), or returns nil when
/// the path does not fit in `sun_path`. One place for the C dance that connect and bind both need.
public func withUnixSocketAddress<Result>(
    _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result
) -> Result? {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}
