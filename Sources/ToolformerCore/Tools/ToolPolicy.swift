/// How the orchestrator runs one tool: its limits, retries and budget, from its configuration.
public struct ToolPolicy: Sendable, Equatable {
    /// One attempt's limit (`timeout_ms`); waiting for a rate limit or a slot counts against it.
    public var timeout: Duration
    public var retry: RetryPolicy
    /// The `[rate_limits.NAME]` bucket each attempt takes a token from.
    public var rateLimit: String?
    /// Attempts of this tool at once, all clients together.
    public var maxConcurrency: Int?
    /// Safe to run twice: only then is an attempt that timed out retried.
    public var idempotent: Bool
    /// How long a successful result is kept (`cache_ttl_s`); zero: never cached.
    public var cacheTTL: Duration
    /// Start a second, identical attempt when the first has not answered in this time (idempotent
    /// tools only; the configuration refuses it otherwise). Zero: never.
    public var hedgeAfter: Duration
    /// Tools with the same group share one `maxConcurrency` queue (an MCP server's tools: the
    /// limit is the server's); `nil`: the tool has its own.
    public var concurrencyGroup: String? = nil

    public init(
        timeout: Duration, retry: RetryPolicy = .never, rateLimit: String? = nil, maxConcurrency: Int? = nil,
        idempotent: Bool = false, cacheTTL: Duration = .zero, hedgeAfter: Duration = .zero
    ) {
        self.timeout = timeout
        self.retry = retry
        self.rateLimit = rateLimit
        self.maxConcurrency = maxConcurrency
        self.idempotent = idempotent
        self.cacheTTL = cacheTTL
        self.hedgeAfter = idempotent ? hedgeAfter : .zero
    }

    public init(_ config: ToolConfig) {
        self.init(
            timeout: .milliseconds(config.timeoutMs), retry: RetryPolicy(config.retry), rateLimit: config.rateLimit,
            maxConcurrency: config.maxConcurrency, idempotent: config.idempotent,
            cacheTTL: .seconds(config.cacheTTLSeconds), hedgeAfter: .milliseconds(config.hedgeAfterMs))
    }
}
