/// The events only the hot paths see, for metrics. Everything else the daemon counts (cache,
/// providers, pools, queues, buckets, connections) is in `daemon/status` already, and an exporter
/// reads it from there when scraped.
///
/// The daemon installs a swift-metrics implementation; tests and embedders get ``NoMetrics``.
public protocol ToolformerMetrics: Sendable {
    /// A request answered: `code` is 0 for a result, else the JSON-RPC error code.
    func requestFinished(method: String, code: Int64, duration: Duration)
    /// A tool call ended: `outcome` is `ok`, `error` (isError), `cached`, `timeout`, `rate_limited`
    /// or `cancelled`.
    func toolCallFinished(tool: String, outcome: String, duration: Duration)
    func toolRetried(tool: String)
    func rateLimitWaited(bucket: String, wait: Duration)
    func rateLimitRejected(bucket: String)
}

/// Counts nothing.
public struct NoMetrics: ToolformerMetrics {
    public init() {}
    public func requestFinished(method: String, code: Int64, duration: Duration) {}
    public func toolCallFinished(tool: String, outcome: String, duration: Duration) {}
    public func toolRetried(tool: String) {}
    public func rateLimitWaited(bucket: String, wait: Duration) {}
    public func rateLimitRejected(bucket: String) {}
}
