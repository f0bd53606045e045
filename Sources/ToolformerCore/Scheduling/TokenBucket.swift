/// A token bucket that hands out reservations: tokens are taken when asked for, so the balance may
/// go negative, and the wait is how long until the balance that request left is paid back.
///
/// Reserving at once, in arrival order, is what serves waiters in order with no queue at all: a
/// later request always sees the debt of every earlier one. A value type with explicit times, so
/// its arithmetic is tested without any clock.
public struct TokenBucket: Sendable, Equatable {
    /// Most tokens the bucket holds (the burst).
    public var capacity: Double
    /// Tokens added per second.
    public var ratePerSecond: Double
    public private(set) var tokens: Double
    private var updated: Duration

    public init(capacity: Double, ratePerSecond: Double, now: Duration) {
        precondition(capacity >= 1 && ratePerSecond > 0)
        self.capacity = capacity
        self.ratePerSecond = ratePerSecond
        tokens = capacity
        updated = now
    }

    public enum Reservation: Sendable, Equatable {
        /// Granted: go after `wait` (zero when tokens were there).
        case granted(wait: Duration)
        /// Refused without taking anything: the wait would be `retryAfter`, longer than allowed.
        case refused(retryAfter: Duration)
    }

    /// Takes `count` tokens if the wait for them is at most `maxWait`.
    public mutating func reserve(_ count: Double = 1, now: Duration, maxWait: Duration) -> Reservation {
        refill(now: now)
        let balance = tokens - count
        let wait = balance >= 0 ? Duration.zero : Duration.seconds(fraction: -balance / ratePerSecond)
        if wait > maxWait { return .refused(retryAfter: wait) }
        tokens = balance
        return .granted(wait: wait)
    }

    /// Gives back tokens a cancelled waiter never used.
    public mutating func refund(_ count: Double = 1, now: Duration) {
        refill(now: now)
        tokens = min(capacity, tokens + count)
    }

    /// Tokens available now (negative while waiters are queued on it).
    public mutating func level(now: Duration) -> Double {
        refill(now: now)
        return tokens
    }

    private mutating func refill(now: Duration) {
        guard now > updated else { return }
        tokens = min(capacity, tokens + (now - updated).seconds * ratePerSecond)
        updated = now
    }
}
