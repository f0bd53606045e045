import Dispatch
import Synchronization

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
}

/// A sleep whose timer is freed when it is cancelled.
///
/// `Task.sleep` in this toolchain's Linux runtime leaves its timer, and the task that owns it,
/// scheduled until the original deadline even when the sleeping task is cancelled. Deadlines
/// race nearly every tool call and are nearly always cancelled, so at 10,000 calls a second with
/// 30 s timeouts that was hundreds of MiB held for nothing (the soak test found it). This one
/// cancels its dispatch timer on task cancellation, which frees it at once.
public enum CancellableSleep {
    private static let queue = DispatchQueue(label: "toolformer.timers")

    /// Suspends until `deadline`; throws `CancellationError` as soon as the task is cancelled.
    public static func until(_ deadline: ContinuousClock.Instant) async throws {
        let remaining = deadline - .now
        guard remaining > .zero else { return try Task.checkCancellation() }
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let source = DispatchSource.makeTimerSource(queue: queue)
                let (seconds, attoseconds) = remaining.components
                let nanoseconds = Int(clamping: seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
                source.schedule(deadline: .now() + .nanoseconds(nanoseconds), leeway: .nanoseconds(0))
                source.setEventHandler { sleeper.finish(nil) }
                if !sleeper.install(continuation, .init(source: source)) {
                    // Cancelled already. A source must not be released while suspended
                    // (libdispatch aborts): cancel it, then resume it so it can go.
                    source.cancel()
                    continuation.resume(throwing: CancellationError())
                }
                source.resume()
            }
        } onCancel: {
            sleeper.finish(CancellationError())
        }
    }

    /// Resumes the continuation once, from the timer or from cancellation, and cancels the timer.
    private final class Sleeper: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Void, any Error>?
            var source: Timer?
            var cancelled = false
        }

        /// libdispatch's sources are thread-safe objects; Swift's overlay just does not say so.
        struct Timer: @unchecked Sendable {
            let source: any DispatchSourceTimer
        }

        private let state = Mutex(State())

        /// false when cancellation came first: the caller resumes, nothing was started.
        func install(_ continuation: CheckedContinuation<Void, any Error>, _ source: Timer) -> Bool {
            state.withLock { state in
                guard !state.cancelled else { return false }
                state.continuation = continuation
                state.source = source
                return true
            }
        }

        func finish(_ error: (any Error)?) {
            let continuation = state.withLock { state in
                if error != nil { state.cancelled = true }
                // dispatch_source_cancel only marks the source; it never blocks or calls back here.
                state.source?.source.cancel()
                state.source = nil
                defer { state.continuation = nil }
                return state.continuation
            }
            if let error { continuation?.resume(throwing: error) } else { continuation?.resume() }
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
