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
        try await Task.sleep(until: origin + deadline, clock: .continuous)
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
