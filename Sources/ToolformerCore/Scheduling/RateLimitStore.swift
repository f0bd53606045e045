public import ToolformerProtocol
import Synchronization

/// Where rate-limit budgets live: in this process, or shared across hosts in Redis.
/// The orchestrator only reserves, refunds and reads levels.
public protocol RateLimitStore: Sendable {
    /// Reserves `tokens` from `bucket` if the wait is at most the smaller of the bucket's
    /// `max_wait_ms` and `limit`. nil when no such bucket is configured.
    func reserve(bucket: String, tokens: Double, limit: Duration) async -> TokenBucket.Reservation?
    /// Returns tokens a cancelled waiter did not use.
    func refund(bucket: String, tokens: Double) async
    /// Takes tokens already spent (an LLM response's usage), whatever the balance.
    func charge(bucket: String, tokens: Double) async
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

    /// Takes `tokens` whatever the balance (usage already spent), leaving a debt to wait out.
    public func charge(bucket name: String, tokens: Double) async {
        let now = clock.now
        buckets.withLock { buckets in
            _ = buckets[name]?.bucket.reserve(tokens, now: now, maxWait: .seconds(1e9))
        }
    }

    public func refund(bucket name: String, tokens: Double) async {
        let now = clock.now
        buckets.withLock { $0[name]?.bucket.refund(tokens, now: now) }
    }

    public func configure(_ configs: [String: RateLimitConfig]) async { apply(configs) }

    /// The bucket that meters a budget's `tokens_per_minute`, beside its requests.
    public static func tokenBucket(_ name: String) -> String { name + "#tokens" }

    /// ``configure(_:)`` without the wait: for stores that wrap this one.
    public func apply(_ configs: [String: RateLimitConfig]) {
        let now = clock.now
        buckets.withLock { buckets in
            var next: [String: Bucket] = [:]
            for (name, config) in configs {
                if let perMinute = config.tokensPerMinute, perMinute > 0 {
                    // Tokens are charged after a response, from its usage; the balance may go
                    // negative, and the next request waits until it is paid back.
                    let tokenName = Self.tokenBucket(name)
                    if let kept = buckets[tokenName], kept.config == config {
                        next[tokenName] = kept
                    } else {
                        next[tokenName] = Bucket(
                            bucket: TokenBucket(capacity: Double(perMinute), ratePerSecond: Double(perMinute) / 60, now: now),
                            maxWait: .milliseconds(config.maxWaitMs), config: config)
                    }
                }
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
