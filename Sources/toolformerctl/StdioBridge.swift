import Synchronization
import ToolformerProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Copies bytes both ways between stdin/stdout and the daemon's socket, each direction on its own
/// thread, so that a host that is slow to read never stops its own requests from going out.
///
/// Bytes pass through untouched: lines stay exactly as they were, whatever their size, and every
/// read is written on at once (there is no buffer to flush). Nothing but the daemon's bytes ever
/// reaches stdout; what goes wrong is said on stderr.
final class StdioBridge: Sendable {
    /// How a bridge session ended.
    enum Ending: Equatable {
        /// stdin ended and the daemon answered what was in flight, then closed.
        case finished
        /// stdin ended but the daemon was still busy when the close timeout passed.
        case closeTimedOut
    }

    private let socket: Int32
    private let input: Int32
    private let output: Int32
    private let stdinClosed = Atomic<Bool>(false)
    private let daemonClosed = Atomic<Bool>(false)
    private let exiting = Mutex(false)
    /// The last bytes the daemon sent, to quote its last line when it hangs up on us.
    private let tail = Mutex<[UInt8]>([])
    private static let chunk = 256 * 1024
    private static let tailBytes = 4096

    init(socket: Int32, input: Int32 = 0, output: Int32 = 1) {
        self.socket = socket
        self.input = input
        self.output = output
    }

    /// Runs until stdin ends and the daemon has answered (or `closeTimeout` passed). A daemon that
    /// goes away first, or a write to it that fails, ends the process with status 1 from whichever
    /// thread sees it first.
    func run(closeTimeout: Duration) -> Ending {
        // A host that closes our stdout must not kill us silently with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        startThread { [self] in copyDaemonToStdout() }
        copyStdinToDaemon()

        // Only now may the daemon's end of the stream be a normal end.
        stdinClosed.store(true, ordering: .sequentiallyConsistent)
        _ = shutdown(socket, Int32(SHUT_WR))
        let deadline = ContinuousClock.now + closeTimeout
        while !daemonClosed.load(ordering: .sequentiallyConsistent) {
            if ContinuousClock.now >= deadline { return .closeTimedOut }
            usleep(5_000)
        }
        return .finished
    }

    // MARK: - The two directions

    private func copyStdinToDaemon() {
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            // End of stdin (or a stdin that cannot be read, which ends the session the same way).
            if count <= 0 { return }
            var offset = 0
            while offset < count {
                let sent = buffer[offset..<count].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0, errno == EINTR { continue }
                if sent <= 0 {
                    fail("cannot send to the daemon: \(String(cString: strerror(errno))); it stopped or restarted")
                }
                offset += sent
            }
        }
    }

    private func copyDaemonToStdout() {
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 {
                let reason = count < 0 ? String(cString: strerror(errno)) : nil
                daemonClosed.store(true, ordering: .sequentiallyConsistent)
                if stdinClosed.load(ordering: .sequentiallyConsistent) { return }
                fail(hangUpMessage(reason))
            }
            remember(buffer[0..<count])
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
                if written < 0, errno == EINTR { continue }
                if written <= 0 {
                    // The host closed our stdout: it has gone, and so do we, quietly.
                    finish(status: 0)
                }
                offset += written
            }
        }
    }

    // MARK: - Ending

    private func remember(_ bytes: ArraySlice<UInt8>) {
        tail.withLock { tail in
            tail.append(contentsOf: bytes.suffix(Self.tailBytes))
            if tail.count > Self.tailBytes { tail.removeFirst(tail.count - Self.tailBytes) }
        }
    }

    /// Why the daemon hung up, quoting its last line when that was an error about the connection
    /// (a refusal: this uid may not connect, too many connections).
    private func hangUpMessage(_ reason: String?) -> String {
        var message = "the daemon closed the connection" + (reason.map { " (\($0))" } ?? "")
        var last = tail.withLock { $0 }
        while last.last == UInt8(ascii: "\n") || last.last == UInt8(ascii: "\r") { last.removeLast() }
        if let newline = last.lastIndex(of: UInt8(ascii: "\n")) { last.removeSubrange(...newline) }
        if let parsed = try? JSONParser().parse(last), parsed["id"] == .null,
            let error = parsed["error"], let text = error["message"]?.stringValue {
            message += ": error \(error["code"]?.intValue ?? 0): \(text)"
        } else {
            message += "; it stopped or restarted"
        }
        return message
    }

    /// Says why on stderr and exits 1; the first thread to get here wins.
    private func fail(_ message: String) -> Never {
        claimExit()
        Output.error("mcp: " + message)
        exit(ExitStatus.requestFailed.rawValue)
    }

    private func finish(status: Int32) -> Never {
        claimExit()
        exit(status)
    }

    /// Lets one thread end the process; another that tries meanwhile waits for the end.
    private func claimExit() {
        let first = exiting.withLock { exiting in
            defer { exiting = true }
            return !exiting
        }
        if !first { while true { pause() } }
    }

    private func startThread(_ body: @escaping () -> Void) {
        final class Box {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        if result != 0 { fail("cannot start a thread: \(String(cString: strerror(result)))") }
        pthread_detach(thread)
    }
}
