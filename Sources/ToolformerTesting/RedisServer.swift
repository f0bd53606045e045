#if canImport(Glibc)
public import Glibc
#endif

/// A real `redis-server` (Debian's package) on 127.0.0.1 at a free port and on a unix socket, in
/// a temporary directory, with nothing persisted. Tests and the benchmark start their own and
/// stop it (``stop()``; `deinit` leaves no process behind); ``start()`` again reuses the port, so
/// daemons configured with ``url`` find it back.
public final class RedisServer: @unchecked Sendable {
    public static let binary = "/usr/bin/redis-server"
    public static let cli = "/usr/bin/redis-cli"

    public let directory: String
    public private(set) var port: Int = 0
    public let password: String?
    public var unixSocket: String { directory + "/redis.sock" }
    public private(set) var pid: pid_t = 0

    /// `redis://127.0.0.1:PORT/0`, without the password.
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    public init(password: String? = nil) throws {
        guard access(Self.binary, X_OK) == 0 else {
            throw TestDaemonError("\(Self.binary) is missing: install Debian's redis-server (.ci/install-deps does)")
        }
        var template = Array("/tmp/toolformer-redis-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
        directory = String(cString: made)
        self.password = password
        var lastError: (any Error)?
        for _ in 0..<5 {
            port = try Self.freePort()
            do {
                try start()
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TestDaemonError("redis-server did not start")
    }

    deinit {
        stop()
        _ = try? TestDaemon.run(["/bin/rm", "-rf", directory])
    }

    /// Starts the server (again) on the same port; returns once it answers.
    public func start() throws {
        var argv = [
            Self.binary, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory, "--unixsocket", unixSocket, "--unixsocketperm", "700", "--daemonize", "no",
            "--protected-mode", "no", "--loglevel", "warning",
        ]
        if let password { argv += ["--requirepass", password] }
        pid = try TestDaemon.spawn(argv, environment: ["PATH": "/usr/bin:/bin"], output: directory + "/redis.log")
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw TestDaemonError("redis-server exited at start: \((try? TestDaemon.readFile(directory + "/redis.log")) ?? "")")
            }
            if (try? cli(["PING"])) != nil { return }
            usleep(10_000)
        }
        throw TestDaemonError("redis-server did not answer within 10 s")
    }

    /// SIGKILL (to the daemons, a crash), and waits for the exit.
    public func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// SIGSTOP / SIGCONT: a Redis that is there but does not answer.
    public func pause() { if pid > 0 { kill(pid, SIGSTOP) } }
    public func resume() { if pid > 0 { kill(pid, SIGCONT) } }

    /// Runs one command with `redis-cli` and returns its output without the final newline.
    @discardableResult
    public func cli(_ arguments: [String]) throws -> String {
        let output = directory + "/cli.out"
        var argv = [Self.cli, "-h", "127.0.0.1", "-p", String(port), "--no-auth-warning"]
        if let password { argv += ["-a", password] }
        let child = try TestDaemon.spawn(argv + arguments, environment: ["PATH": "/usr/bin:/bin"], output: output)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let text = (try? TestDaemon.readFile(output)) ?? ""
        _ = unlink(output)
        guard status == 0, !text.hasPrefix("Could not connect"), !text.contains("Connection refused") else {
            throw TestDaemonError("redis-cli \(arguments.first ?? "") failed: \(text)")
        }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    /// A TCP port nothing listens on now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestDaemonError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestDaemonError("bind failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
