internal import CSystemd

/// The watchdog interval systemd asked for (`WatchdogSec=`).
public enum SystemdWatchdog {
    /// `WATCHDOG_USEC` as a `Duration`, or nil when the watchdog is off or `WATCHDOG_PID` names
    /// another process (a child that inherited the environment must not ping for its parent).
    public static func interval() -> Duration? {
        var usec: UInt64 = 0
        // 0: keep WATCHDOG_USEC, so that a later re-read (after a reload) still sees it.
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec))
    }
}
