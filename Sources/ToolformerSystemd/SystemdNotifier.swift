internal import CSystemd
internal import Glibc

/// Tells systemd about the daemon's state through `sd_notify`.
///
/// Every method is a silent no-op when `NOTIFY_SOCKET` was unset at `init()`, so the daemon can
/// call them unconditionally whether or not it runs under systemd.
public struct SystemdNotifier: Sendable {
    /// Whether `NOTIFY_SOCKET` was present when the notifier was created.
    public let isEnabled: Bool

    /// Reads the environment once.
    public init() {
        self.isEnabled = getenv("NOTIFY_SOCKET") != nil
    }

    /// `READY=1`, with an optional `STATUS=` in the same datagram.
    public func ready(status: String? = nil) {
        send(Self.assignments(["READY=1"], status: status))
    }

    /// `RELOADING=1` and `MONOTONIC_USEC=` in one datagram.
    ///
    /// systemd pairs the reload with this timestamp to tell a reload it started from a stale
    /// `READY=1`; both fields must therefore arrive together. Send `ready()` once the reload is done.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds())")
    }

    /// `STOPPING=1`, with an optional `STATUS=`.
    ///
    /// Send it when draining starts: it moves the unit out of the running state, which also disarms
    /// systemd's watchdog, so a long drain is not mistaken for a hang.
    public func stopping(status: String? = nil) {
        send(Self.assignments(["STOPPING=1"], status: status))
    }

    /// `STATUS=`: the line `systemctl status` shows.
    public func status(_ text: String) {
        send(Self.assignments([], status: text))
    }

    /// `EXTEND_TIMEOUT_USEC=`: asks for more time in the current start, reload or stop phase.
    public func extendTimeout(microseconds: UInt64) {
        send("EXTEND_TIMEOUT_USEC=\(microseconds)")
    }

    /// `WATCHDOG=1`.
    public func watchdogPing() {
        send("WATCHDOG=1")
    }

    /// `STATUS=` and `ERRNO=` together, for a failure systemd should record before the exit.
    public func fatal(status: String, errno: Int32) {
        send(Self.assignments([], status: status) + "\nERRNO=\(errno)")
    }

    /// Sends newline-separated assignments exactly as given.
    public func send(_ assignments: String) {
        guard isEnabled, !assignments.isEmpty else { return }
        // 0: never unset NOTIFY_SOCKET, or every later WATCHDOG=1 would go nowhere.
        _ = sd_notify(0, assignments)
    }

    /// A newline inside a status would end the assignment early and turn the rest of the text into
    /// assignments of its own, so it is flattened to a space.
    static func assignments(_ fixed: [String], status: String?) -> String {
        var lines = fixed
        if let status {
            let flat = String(status.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
            lines.append("STATUS=\(flat)")
        }
        return lines.joined(separator: "\n")
    }
}

/// CLOCK_MONOTONIC in microseconds: the clock systemd compares `MONOTONIC_USEC=` against.
func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}
