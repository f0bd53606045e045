public import ToolformerProtocol
import Synchronization

/// Where rate-limit budgets live: in this process, or (later) shared across hosts in Redis.
/// The orchestrator only reserves, refunds and reads levels.
public protocol RateLimitStore: Sendable {
    /// Reserves `tokens` from `bucket` if the wait is at most the smaller of the bucket's
    /// `max_wait_ms` and `limit`. nil when no such bucket is configured.
    func reserve(bucket: String, tokens: Double, limit: Duration) async -> TokenBucket.Reservation?
    /// Returns tokens a cancelled waiter did not use.
    func refund(bucket: String, tokens: Double) async
    /// Applies a configuration's buckets, keeping the balance of those that stay.
    func configure(_ buckets: [String: RateLimitConfig]) async
    /// `daemon/status`'s view: each bucket's level, capacity and rate. Synchronous on purpose:
    /// status must never wait on a remote store, which reports what it last saw.
    func status() -> JSONObject
}

/// Budgets kept in this daemon, shared by all of its clients.
public final class LocalRateLimitStore: RateLimitStore {
    private struct Bucket {
        var bucket: TokenBucket
        var maxWait: Duration
        var config: RateLimitConfig
    }

    private let clock: any ToolformerClock
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(clock: any ToolformerClock, buckets configs: [String: RateLimitConfig] = [:]) {
        self.clock = clock
        apply(configs)
    }

    public func reserve(bucket name: String, tokens: Double, limit: Duration) async -> TokenBucket.Reservation? {
        let now = clock.now
        return buckets.withLock { buckets in
            guard var entry = buckets[name] else { return nil }
            let result = entry.bucket.reserve(tokens, now: now, maxWait: min(limit, entry.maxWait))
            buckets[name] = entry
            return result
        }
    }

    public func refund(bucket name: String, tokens: Double) async {
        let now = clock.now
        buckets.withLock { $0[name]?.bucket.refund(tokens, now: now) }
    }

    public func configure(_ configs: [String: RateLimitConfig]) async { apply(configs) }

    private func apply(_ configs: [String: RateLimitConfig]) {
        let now = clock.now
        buckets.withLock { buckets in
            var next: [String: Bucket] = [:]
            for (name, config) in configs {
                let capacity = Double(max(config.burst, 1))
                let rate = config.rate.requestsPerSecond
                if var kept = buckets[name], kept.config == config {
                    kept.maxWait = .milliseconds(config.maxWaitMs)
                    next[name] = kept
                } else {
                    next[name] = Bucket(
                        bucket: TokenBucket(capacity: capacity, ratePerSecond: rate, now: now),
                        maxWait: .milliseconds(config.maxWaitMs), config: config)
                }
            }
            buckets = next
        }
    }

    public func status() -> JSONObject {
        let now = clock.now
        return buckets.withLock { buckets in
            var result = JSONObject()
            for name in buckets.keys.sorted() {
                var entry = buckets[name]!
                let level = entry.bucket.level(now: now)
                buckets[name] = entry
                result[name] = [
                    "level": .double((level * 1000).rounded() / 1000), "capacity": .double(entry.bucket.capacity),
                    "ratePerSecond": .double(entry.bucket.ratePerSecond), "maxWaitMs": .int(entry.maxWait.milliseconds),
                ]
            }
            return result
        }
    }
}
