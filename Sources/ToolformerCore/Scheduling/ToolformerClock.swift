
/// The time source of everything that waits: rate limits, backoff, deadlines.
///
/// A small protocol rather than a generic `Clock` parameter: the orchestrator holds it as an
/// existential, so no generic parameter spreads through every type that touches time, and tests
/// swap in a manual clock that never sleeps.
public protocol ToolformerClock: Sendable {
    /// Time since this clock's origin.
    var now: Duration { get }
    /// Suspends until `now >= deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Duration) async throws
    /// Calls `action` once `now >= deadline`, unless the returned timer is cancelled first; it may
    /// run at once when the deadline has passed. No task waits for it: this is how a deadline is
    /// raced without a task and a sleep of its own (see ``DeadlineRace``).
    func schedule(at deadline: Duration, _ action: @escaping @Sendable () -> Void) -> any ClockTimer
}

/// A wake-up from ``ToolformerClock/schedule(at:_:)``.
public protocol ClockTimer: Sendable {
    /// After this returns the action will not start (it may be running already).
    func cancel()
}

extension ToolformerClock {
    public func sleep(for duration: Duration) async throws { try await sleep(until: now + duration) }
}

/// The real clock: `ContinuousClock`, counted from when this value was made.
public struct SystemClock: ToolformerClock {
    private let origin: ContinuousClock.Instant

    public init() { origin = .now }

    public var now: Duration { ContinuousClock.now - origin }

    public func sleep(until deadline: Duration) async throws {
        try await CancellableSleep.until(origin + deadline)
    }

    public func schedule(at deadline: Duration, _ action: @escaping @Sendable () -> Void) -> any ClockTimer {
        let timer = DeadlineScheduler.Timer(deadline: origin + deadline)
        DeadlineScheduler.shared.schedule(timer) { fired in if fired { action() } }
        return ScheduledTimer(timer: timer)
    }

    private struct ScheduledTimer: ClockTimer {
        let timer: DeadlineScheduler.Timer
        func cancel() { DeadlineScheduler.shared.cancel(timer) }
    }
}

/// A sleep whose timer is freed when it is cancelled.
///
/// `Task.sleep` in this toolchain's Linux runtime leaves its timer, and the task that owns it,
/// scheduled until the original deadline even when the sleeping task is cancelled. Deadlines
/// race nearly every tool call and are nearly always cancelled, so at 10,000 calls a second with
/// 30 s timeouts that was hundreds of MiB held for nothing (the soak test found it). This one
/// waits in the ``DeadlineScheduler``, whose timers leave its heap, and are freed, the moment
/// their task is cancelled.
public enum CancellableSleep {
    /// Suspends until `deadline`; throws `CancellationError` as soon as the task is cancelled.
    public static func until(_ deadline: ContinuousClock.Instant) async throws {
        guard deadline > .now else { return try Task.checkCancellation() }
        let timer = DeadlineScheduler.Timer(deadline: deadline)
        try await withTaskCancellationHandler {
            // Resumed exactly once: by the timer's action (fired or cancelled), which the scheduler
            // runs once, or here when the timer was cancelled before it was armed and no action
            // was kept.
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let scheduled = DeadlineScheduler.shared.schedule(timer) { fired in
                    if fired { continuation.resume() } else { continuation.resume(throwing: CancellationError()) }
                }
                if !scheduled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            DeadlineScheduler.shared.cancel(timer)
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up: what `retryAfterMs` and `waitMs` report.
    public var millisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return attoseconds % 1_000_000_000_000_000 > 0 ? ms + 1 : ms
    }

    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    public static func seconds(fraction: Double) -> Duration { .nanoseconds(Int64((fraction * 1e9).rounded(.up))) }
}
