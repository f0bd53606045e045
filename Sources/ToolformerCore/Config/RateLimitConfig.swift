/// `[rate_limits.NAME]`: one token bucket, shared by every tool, provider and client that names it.
public struct RateLimitConfig: Sendable, Equatable {
    /// How fast the bucket refills: exactly one of `requests_per_second` / `requests_per_minute`.
    public enum Rate: Sendable, Equatable, Hashable {
        case perSecond(Double)
        case perMinute(Double)

        /// The refill rate in requests per second, whichever way the file wrote it.
        public var requestsPerSecond: Double {
            switch self {
            case .perSecond(let rate): rate
            case .perMinute(let rate): rate / 60
            }
        }
    }

    /// The table's name, matching `^[a-zA-Z0-9_-]{1,64}$`.
    public var name: String
    /// `requests_per_second` or `requests_per_minute`.
    public var rate: Rate
    /// `tokens_per_minute`: a second budget for LLM tokens; providers only, `nil` when unset.
    public var tokensPerMinute: Int? = nil
    /// `burst`: the bucket's size. Defaults to one second's worth of requests, at least 1,
    /// so that a steady client is never throttled below the rate.
    public var burst: Int
    /// `max_wait_ms`: a request that would wait longer fails at once with -32004.
    public var maxWaitMs = 30_000
    /// `shared`: enforced across every daemon on the same `[cluster]` Redis.
    public var shared = false
    /// `local_share`: the fraction of the rate one host may use while Redis is unreachable, 0...1.
    public var localShare = 0.25

    /// A bucket with every other key at its default.
    public init(name: String, rate: Rate) {
        self.name = name
        self.rate = rate
        self.burst = Self.defaultBurst(for: rate)
    }

    /// One second's worth of requests, at least 1.
    public static func defaultBurst(for rate: Rate) -> Int {
        let perSecond = rate.requestsPerSecond.rounded(.up)
        return perSecond >= Double(Int.max) ? Int.max : max(1, Int(perSecond))
    }
}
