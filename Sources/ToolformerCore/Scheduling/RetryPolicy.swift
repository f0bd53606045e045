/// When and how long to wait before trying a call again.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(maxAttempts: Int, initialBackoff: Duration, maxBackoff: Duration) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    public init(_ config: ToolformerConfig.Retry) {
        self.init(
            maxAttempts: config.maxAttempts, initialBackoff: .milliseconds(config.initialBackoffMs),
            maxBackoff: .milliseconds(config.maxBackoffMs))
    }

    public static let never = RetryPolicy(maxAttempts: 1, initialBackoff: .zero, maxBackoff: .zero)

    /// The wait before attempt `attempt + 1`, after attempt `attempt` (from 1) failed.
    ///
    /// Exponential with full jitter (a uniform draw between zero and the exponential ceiling), so
    /// clients that failed together do not retry together; never less than the server's
    /// `Retry-After`. `unit` draws from [0, 1); tests pass a fixed one.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration? = nil, unit: () -> Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 62)
        let ceiling = min(maxBackoff.seconds, initialBackoff.seconds * Double(1 << exponent))
        let jittered = Duration.seconds(fraction: ceiling * min(max(unit(), 0), 1))
        guard let retryAfter else { return jittered }
        return max(jittered, retryAfter)
    }
}
