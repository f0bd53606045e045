#if canImport(Glibc)
public import Glibc
#endif
public import ToolformerClient
import CToolformerShims
import ToolformerProtocol

/// Why a test daemon could not be started or did not behave.
public struct TestDaemonError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The real `toolformerd` binary, started on a temporary socket with a configuration of the test's.
///
/// Tests and the benchmark talk to it as any client would. Its stderr goes to a file in the
/// temporary directory (``log``); ``stop()`` and `deinit` leave no process behind.
public final class TestDaemon: @unchecked Sendable {
    public let directory: String
    public let socketPath: String
    public let configPath: String
    public let logPath: String
    public private(set) var pid: pid_t
    private var exitStatus: Int32?

    /// A small configuration with the builtin tools, for tests that need nothing more.
    public static let basicConfig = config()

    /// ``basicConfig`` with more `[server]` keys (`"max_line_bytes = 1024"`) and more TOML after it.
    public static func config(server: String = "", extra: String = "") -> String {
        """
        [server]
        drain_timeout_ms = 5000
        \(server)

        [tools.echo]
        kind = "builtin"

        [tools.sleep]
        kind = "builtin"

        [tools.now]
        kind = "builtin"

        \(extra)
        """
    }

    /// Where the built executables are: beside the test bundle, or `TOOLFORMER_BIN_DIR`.
    public static var binDirectory: String {
        if let dir = getenv("TOOLFORMER_BIN_DIR") { return String(cString: dir) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        // .build/<triple>/debug/toolformerdPackageTests.xctest: the binaries sit beside it.
        var parts = exe.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        return parts.joined(separator: "/")
    }

    public static func binary(_ name: String) -> String { binDirectory + "/" + name }

    /// Starts the daemon (after `launcher`, if any). `arguments` are added after `--config` and `--socket`; `environment` adds to
    /// a clean one (PATH, HOME). With `waitUntilReady`, returns once `ping` is answered.
    public init(
        config: String = TestDaemon.basicConfig, socket: String? = nil, arguments: [String] = [],
        environment: [String: String] = [:],
        useSocketArgument: Bool = true, launcher: [String] = [], waitUntilReady: Bool = true
    ) throws {
        var template = Array("/tmp/toolformer-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
        directory = String(cString: made)
        socketPath = socket ?? directory + "/toolformerd.sock"
        configPath = directory + "/toolformerd.toml"
        logPath = directory + "/daemon.log"
        try Self.writeFile(configPath, config)

        // `launcher` goes first: `systemd-socket-activate -l PATH` execs the daemon as the same pid.
        var argv = launcher + [Self.binary("toolformerd"), "--config", configPath, "--log", "stderr"]
        if useSocketArgument { argv += ["--socket", socketPath] }
        argv += arguments
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": directory]
        for (key, value) in environment { env[key] = value }
        pid = try Self.spawn(argv, environment: env, output: logPath)
        if waitUntilReady { try waitForPing(timeout: .seconds(20)) }
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        _ = try? Self.run(["/bin/rm", "-rf", directory])
    }

    /// A new client connection.
    public func connect() throws -> ToolformerConnection { try ToolformerConnection(path: socketPath) }

    /// Polls until `ping` is answered.
    public func waitForPing(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try pollExit() {
                throw TestDaemonError("toolformerd exited with \(status) before answering; log:\n\(log)")
            }
            if let connection = try? connect(), (try? connection.call("ping", timeout: .seconds(2))) != nil { return }
            usleep(10_000)
        }
        throw TestDaemonError("toolformerd did not answer ping within \(timeout); log:\n\(log)")
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// The exit code if the daemon has exited (128+N when killed by signal N), without waiting.
    public func pollExit() throws -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            exitStatus = Self.decode(status)
            return exitStatus
        }
        return nil
    }

    /// Waits for the daemon to exit and returns its exit code.
    public func waitForExit(timeout: Duration) throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try pollExit() { return status }
            usleep(5_000)
        }
        throw TestDaemonError("toolformerd did not exit within \(timeout); log:\n\(log)")
    }

    /// SIGTERM, then the exit code.
    @discardableResult
    public func stop(timeout: Duration = .seconds(30)) throws -> Int32 {
        if let exitStatus { return exitStatus }
        signal(SIGTERM)
        return try waitForExit(timeout: timeout)
    }

    /// What the daemon wrote to stderr so far.
    public var log: String { (try? Self.readFile(logPath)) ?? "" }

    public func writeConfig(_ text: String) throws { try Self.writeFile(configPath, text) }

    // MARK: - Process helpers

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// posix_spawn with stdin from /dev/null and stdout+stderr to `output`, in a new process group.
    public static func spawn(_ argv: [String], environment: [String: String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process: a file another test is writing must not stay open
        // in a long-lived child (running it would fail with ETXTBSY), nor a test's sockets.
        _ = posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new process group, and no signals blocked: a test thread's blocked mask would otherwise
        // be inherited, and SIGINT or SIGTERM would never reach the child.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard result == 0 else { throw TestDaemonError("posix_spawn \(argv[0]) failed: \(String(cString: strerror(result)))") }
        return pid
    }

    /// Runs a command to completion and returns its exit code.
    @discardableResult
    public static func run(_ argv: [String], environment: [String: String] = ["PATH": "/usr/bin:/bin"]) throws -> Int32 {
        let pid = try spawn(argv, environment: environment, output: "/dev/null")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return decode(status)
    }

    public static func writeFile(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestDaemonError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { throw TestDaemonError("write \(path) failed") }
            offset += written
        }
    }

    /// Writes a program (a script) that tests then run. O_CLOEXEC is not enough for that: a
    /// process another test forks in the moment before its exec still holds a file this process has
    /// open for writing, and running the file then fails with ETXTBSY. So the bytes go to a
    /// scratch file here and `cp` writes the program: its inode is never open in this process.
    public static func writeExecutable(_ path: String, _ text: String) throws {
        let scratch = path + ".partial"
        try writeFile(scratch, text)
        defer { unlink(scratch) }
        guard try run(["/bin/cp", scratch, path]) == 0 else { throw TestDaemonError("cannot copy \(scratch) to \(path)") }
        guard chmod(path, 0o755) == 0 else { throw TestDaemonError("cannot chmod \(path)") }
    }

    public static func readFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TestDaemonError("cannot read \(path)") }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: result, as: UTF8.self)
    }
}
