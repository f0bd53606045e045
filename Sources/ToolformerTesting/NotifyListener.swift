internal import Glibc
internal import Synchronization
import ToolformerProtocol

/// A real `NOTIFY_SOCKET`: an `AF_UNIX` `SOCK_DGRAM` socket bound at a fresh temporary path,
/// collecting every datagram the way systemd would receive them.
///
/// Reads happen on demand (in `waitFor` and `messages`), so no thread runs behind the test's back;
/// datagrams queue in the kernel until then.
public final class NotifyListener: Sendable {
    /// The value for `NOTIFY_SOCKET`.
    public let path: String
    private let directory: String
    private let state: Mutex<State>

    private struct State {
        var fd: Int32
        var messages: [String] = []
    }

    /// Binds a fresh socket under a new directory in `/tmp` (not `$TMPDIR`: `sun_path` holds only
    /// 108 bytes).
    public init() throws {
        var template = Array("/tmp/toolformer-notify-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw NotifyListenerError.system("mkdtemp", errno) }
        directory = String(cString: created)
        path = directory + "/notify.sock"

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            let error = errno
            rmdir(directory)
            throw NotifyListenerError.system("socket", error)
        }
        let bound = withUnixSocketAddress(path) { bind(fd, $0, $1) } ?? -1
        guard bound == 0 else {
            let error = errno
            Glibc.close(fd)
            rmdir(directory)
            throw NotifyListenerError.system("bind", error)
        }
        state = Mutex(State(fd: fd))
    }

    deinit {
        close()
    }

    /// Every datagram received so far, oldest first.
    public var messages: [String] {
        state.withLock { state in
            Self.drain(&state)
            return state.messages
        }
    }

    /// Waits until some datagram holds `assignment` as one of its lines (`"READY=1"`), then
    /// returns every message so far.
    /// - Throws: `NotifyListenerError` on timeout, with the messages that did arrive.
    public func waitFor(_ assignment: String, timeout: Duration) throws -> [String] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            // Short polls under the lock: `close()` cannot pull the fd out from under a poll,
            // and `messages` from another thread waits at most one slice.
            let messages = state.withLock { state -> [String]? in
                guard state.fd >= 0 else { return nil }
                var pollfd = Glibc.pollfd(fd: state.fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&pollfd, 1, 10)
                Self.drain(&state)
                return state.messages
            }
            guard let messages else { throw NotifyListenerError.closed }
            if messages.contains(where: { Self.message($0, contains: assignment) }) {
                return messages
            }
            if clock.now >= deadline {
                throw NotifyListenerError.timedOut(waitingFor: assignment, received: messages)
            }
        }
    }

    /// ``waitFor(_:timeout:)`` for async code: it sleeps between looks instead of blocking, so the
    /// thread stays free for the very work (a service sending the datagram) it waits on.
    public func waitForAsync(_ assignment: String, timeout: Duration) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let received = messages
            if received.contains(where: { Self.message($0, contains: assignment) }) { return received }
            if ContinuousClock.now >= deadline {
                throw NotifyListenerError.timedOut(waitingFor: assignment, received: received)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Closes the socket and removes its path and directory; later waits throw.
    public func close() {
        let fd = state.withLock { state in
            Self.drain(&state)
            defer { state.fd = -1 }
            return state.fd
        }
        guard fd >= 0 else { return }
        Glibc.close(fd)
        unlink(path)
        rmdir(directory)
    }

    static func message(_ message: String, contains assignment: String) -> Bool {
        message.split(separator: "\n").contains { $0 == assignment }
    }

    private static func drain(_ state: inout State) {
        guard state.fd >= 0 else { return }
        // sd_notify datagrams are small, but the protocol allows far more than a page.
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes {
                recv(state.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
            state.messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
        }
    }
}

/// Why a `NotifyListener` call failed.
public struct NotifyListenerError: Error, CustomStringConvertible {
    private enum Code {
        case system(call: String, errno: Int32)
        case timedOut(assignment: String, received: [String])
        case closed
    }

    private let code: Code

    static func system(_ call: String, _ errno: Int32) -> NotifyListenerError {
        NotifyListenerError(code: .system(call: call, errno: errno))
    }

    static func timedOut(waitingFor assignment: String, received: [String]) -> NotifyListenerError {
        NotifyListenerError(code: .timedOut(assignment: assignment, received: received))
    }

    static let closed = NotifyListenerError(code: .closed)

    public var description: String {
        switch code {
        case .system(let call, let errno):
            "NotifyListener: \(call) failed: \(String(cString: strerror(errno)))"
        case .timedOut(let assignment, let received):
            "NotifyListener: no \(assignment) within the timeout; received \(received)"
        case .closed:
            "NotifyListener: closed"
        }
    }
}
