#if canImport(Glibc)
public import Glibc
#endif
import CToolformerShims
public import ToolformerProtocol

/// A child process with its stdin and stdout on pipes (as an MCP host runs a stdio server) and
/// its stderr in a file; `deinit` leaves no process behind.
public final class PipedProcess {
    public let pid: pid_t
    private var stdinFD: Int32
    private let stdoutFD: Int32
    private let directory: String
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 1 << 20)
    private var exitStatus: Int32?

    /// Starts `argv` (an absolute path first) with a clean environment.
    public init(_ argv: [String], environment: [String] = ["PATH=/usr/bin:/bin", "HOME=/tmp"]) throws {
        var template = Array("/tmp/toolformer-mcp-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
        directory = String(cString: made)
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw TestDaemonError("pipe failed") }
        // Our ends must not leak into other tests' children.
        for fd in [input[1], output[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(input[0])
        close(output[1])
        guard result == 0 else { throw TestDaemonError("posix_spawn failed: \(result)") }
        self.pid = pid
        stdinFD = input[1]
        stdoutFD = output[0]
    }

    deinit {
        if stdinFD >= 0 { close(stdinFD) }
        close(stdoutFD)
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        _ = try? TestDaemon.run(["/bin/rm", "-rf", directory])
    }

    public func send(_ line: String) throws { try send(Array(line.utf8) + [10]) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
            guard written > 0 else { throw TestDaemonError("write to the bridge failed: \(errno)") }
            offset += written
        }
    }

    public func closeStdin() {
        close(stdinFD)
        stdinFD = -1
    }

    /// The next stdout line, parsed.
    public func readMessage(timeout: Duration = .seconds(10)) throws -> JSONObject {
        let deadline = ContinuousClock.now + timeout
        // Only new bytes are searched for the newline: a line of megabytes arrives in many reads.
        var scanned = 0
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 10) {
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                guard case .object(let object) = try JSONParser(maxDepth: 512).parse(line) else {
                    throw TestDaemonError("not an object on stdout")
                }
                return object
            }
            scanned = buffer.count
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TestDaemonError("no line from the process within \(timeout)") }
            var pfd = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32(remaining.components.seconds * 1000 + 10))
            let count = readChunk()
            if count == 0 { throw TestDaemonError("the process's stdout ended") }
        }
    }

    /// Reads what stdout has into `buffer`: the count, 0 at its end, -1 when nothing was ready.
    private func readChunk() -> Int {
        let count = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
        if count > 0 { buffer.append(contentsOf: chunk[..<count]) }
        return count
    }

    /// Everything left on stdout until it ends.
    public func readToEnd(timeout: Duration = .seconds(20)) throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var pfd = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
            if readChunk() == 0 { return buffer }
        }
        throw TestDaemonError("stdout did not end within \(timeout)")
    }

    public func wait(timeout: Duration = .seconds(20)) throws -> Int32 {
        if let exitStatus { return exitStatus }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) != pid {
            if ContinuousClock.now >= deadline { throw TestDaemonError("the bridge did not exit within \(timeout)") }
            usleep(5_000)
        }
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return exitStatus!
    }

    public var stderr: String { (try? TestDaemon.readFile(directory + "/stderr")) ?? "" }
}
