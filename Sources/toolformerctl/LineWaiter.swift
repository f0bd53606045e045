import ToolformerClient

#if canImport(Glibc)
import Glibc
#endif

/// Waits for the next line from the daemon, Ctrl-C, a tick of the progress clock, or the deadline,
/// whichever comes first: one `poll` on the socket and the interrupt pipe.
struct LineWaiter {
    enum Wakeup {
        case line([UInt8])
        case closed
        case interrupted
        case tick
        case timedOut
    }

    let connection: ToolformerConnection
    /// The read end of ``Interrupt``'s pipe; -1 to ignore Ctrl-C.
    let interruptFD: Int32

    func next(until deadline: ContinuousClock.Instant?, tick: Duration?) throws(ClientError) -> Wakeup {
        while true {
            // Several lines can arrive in one read: one already buffered needs no poll.
            do {
                guard let line = try connection.readLine(timeout: .zero) else { return .closed }
                return .line(line)
            } catch .timedOut {
                // Nothing whole in the buffer.
            }

            var timeoutMs: Int32 = -1
            if let deadline {
                let left = deadline - ContinuousClock.now
                if left <= .zero { return .timedOut }
                timeoutMs = Int32(clamping: Format.milliseconds(left) + 1)
            }
            if let tick {
                let tickMs = Int32(clamping: Format.milliseconds(tick))
                timeoutMs = timeoutMs < 0 ? tickMs : min(timeoutMs, tickMs)
            }
            var fds = [
                pollfd(fd: connection.fileDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: interruptFD, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, timeoutMs)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "poll", errno: errno)
            }
            if fds[1].revents != 0 {
                Interrupt.drain()
                return .interrupted
            }
            if fds[0].revents != 0 {
                do {
                    guard let line = try connection.readLine(timeout: .milliseconds(50)) else { return .closed }
                    return .line(line)
                } catch .timedOut {
                    // Part of a line: it stays buffered; poll again for the rest.
                    continue
                }
            }
            if ready == 0 {
                if let deadline, ContinuousClock.now >= deadline { return .timedOut }
                if tick != nil { return .tick }
            }
        }
    }
}
