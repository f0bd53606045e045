/// Decides, period by period, whether the watchdog may ping; no I/O, no clock.
///
/// Period `n` starts with `tick(n)`, which starts a probe unless an older one is still running.
/// The probe's answer counts only if it arrives before `deadline(n)`: a late `true` says nothing
/// about the daemon now, and piling up probes behind a hung one would only hide the hang.
struct WatchdogStateMachine: Sendable {
    enum FailureReason: String, Sendable, Equatable {
        /// The probe answered `false`.
        case unhealthy
        /// The probe did not answer before the period's deadline.
        case timedOut = "timed_out"
        /// A probe from an earlier period is still running, so none was started.
        case stillRunning = "still_running"
    }

    enum Action: Sendable, Equatable {
        case none
        case startProbe(period: UInt64)
        /// `recoveredAfter` is the length of the failure streak this success ends, if any.
        case ping(recoveredAfter: Int?)
        /// `warn` is true for the first failure of a streak only, so a long hang logs once.
        case failed(FailureReason, streak: Int, warn: Bool)
    }

    private var running: UInt64?
    private var awaiting: UInt64?
    private(set) var failureStreak = 0

    init() {}

    mutating func tick(_ period: UInt64) -> Action {
        // A period whose answer never came was already counted at its deadline.
        awaiting = nil
        if running != nil {
            return fail(.stillRunning)
        }
        running = period
        awaiting = period
        return .startProbe(period: period)
    }

    mutating func probeFinished(_ period: UInt64, healthy: Bool) -> Action {
        if running == period { running = nil }
        guard awaiting == period else { return .none }
        awaiting = nil
        guard healthy else { return fail(.unhealthy) }
        let streak = failureStreak
        failureStreak = 0
        return .ping(recoveredAfter: streak > 0 ? streak : nil)
    }

    mutating func deadline(_ period: UInt64) -> Action {
        guard awaiting == period else { return .none }
        awaiting = nil
        return fail(.timedOut)
    }

    private mutating func fail(_ reason: FailureReason) -> Action {
        failureStreak += 1
        return .failed(reason, streak: failureStreak, warn: failureStreak == 1)
    }
}
