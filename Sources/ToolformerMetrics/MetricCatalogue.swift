/// Every metric the daemon exports, in the order the exposition lists them: the hot-path events
/// first (recorded as they happen), then what `daemon/status` says (read when scraped).
///
/// One list, so that every family has its `# HELP` and `# TYPE` even before it has a sample, and
/// the exposition is in the same order on every scrape.
enum MetricCatalogue {
    enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    struct Family: Sendable {
        let name: String
        let kind: Kind
        let help: String

        init(_ name: String, _ kind: Kind, _ help: String) {
            self.name = "toolformer_" + name
            self.kind = kind
            self.help = help
        }
    }

    // MARK: - Recorded as they happen

    static let requests = Family(
        "requests_total", .counter, "Requests answered, by method and JSON-RPC code (0 for a result).")
    static let requestDuration = Family(
        "request_duration_seconds", .histogram, "Time from reading a request to answering it.")
    static let toolCalls = Family(
        "tool_calls_total", .counter,
        "Tool calls ended, by outcome: ok, error, cached, timeout, rate_limited or cancelled.")
    static let toolCallDuration = Family(
        "tool_call_duration_seconds", .histogram, "Tool call time, retries and queueing included.")
    static let toolRetries = Family("tool_retries_total", .counter, "Tool attempts retried after a failure.")
    static let rateLimitWaits = Family(
        "ratelimit_waits_total", .counter, "Calls that waited for a rate-limit bucket.")
    static let rateLimitWait = Family(
        "ratelimit_wait_seconds", .histogram, "How long calls waited for a rate-limit bucket.")
    static let rateLimitRejections = Family(
        "ratelimit_rejections_total", .counter,
        "Calls refused because the rate-limit wait would pass max_wait_ms or the deadline.")

    // MARK: - Read from daemon/status when scraped

    static let cacheHits = Family("cache_hits_total", .counter, "Result cache lookups that found an entry.")
    static let cacheMisses = Family("cache_misses_total", .counter, "Result cache lookups that found none.")
    static let cacheEvictions = Family(
        "cache_evictions_total", .counter, "Result cache entries evicted to stay within the limits.")
    static let cacheEntries = Family("cache_entries", .gauge, "Entries in the memory tier of the result cache.")
    static let cacheBytes = Family(
        "cache_bytes", .gauge, "Bytes the memory tier of the result cache holds, bookkeeping included.")
    static let cacheCompressedBytes = Family(
        "cache_compressed_bytes", .gauge, "Bytes of result cache entries kept deflated.")
    static let cacheSharedJoins = Family(
        "cache_shared_joins_total", .counter, "Tool calls that joined an identical call's run instead of running the tool.")
    static let providerRequests = Family(
        "provider_requests_total", .counter, "Requests sent to an LLM provider.")
    static let providerFailures = Family(
        "provider_failures_total", .counter, "LLM provider requests that failed.")
    static let providerTokens = Family(
        "provider_tokens_total", .counter, "Tokens an LLM provider reported, by direction: input or output.")
    static let httpRequests = Family(
        "http_requests_total", .counter, "Requests started on the shared HTTP client.")
    static let connectionsOpen = Family("connections_open", .gauge, "Client connections open on the socket.")
    static let requestsInflight = Family("requests_inflight", .gauge, "Requests being served.")
    static let slowReadersDropped = Family(
        "slow_readers_dropped_total", .counter,
        "Connections closed because their client left answers unread past server.slow_reader_timeout_ms.")
    static let overloadRefusals = Family(
        "overload_refusals_total", .counter, "Tool calls refused as overloaded because orchestrator.max_queued calls already waited.")
    static let queueRunning = Family(
        "queue_running", .gauge, "Tool executions holding a slot of a concurrency cap (global or a tool's).")
    static let queueQueued = Family(
        "queue_queued", .gauge, "Tool executions waiting for a slot of a concurrency cap (global or a tool's).")
    static let rateLimitLevel = Family(
        "ratelimit_level", .gauge, "Tokens left in a rate-limit bucket; below zero, callers are waiting.")
    static let clusterUp = Family(
        "cluster_shared", .gauge, "1 while the cluster's Redis is used (shared mode), 0 while degraded to local state.")
    static let clusterRTT = Family("cluster_rtt_seconds", .gauge, "Round-trip time to Redis, smoothed.")
    static let clusterSharedHits = Family(
        "cluster_shared_hits_total", .counter, "Results read from the shared cache tier in Redis.")
    static let clusterLeaseWaits = Family(
        "cluster_lease_waits_total", .counter, "Calls that waited for another daemon running the same call.")
    static let clusterFallbacks = Family(
        "cluster_fallbacks_total", .counter, "Operations served from local state because Redis could not be used.")
    static let clusterDegradations = Family(
        "cluster_degradations_total", .counter, "Switches from shared to degraded mode.")
    static let uptime = Family("uptime_seconds", .gauge, "Seconds since the daemon started.")
    static let buildInfo = Family("build_info", .gauge, "Always 1; the version label says which build runs.")

    static let all: [Family] = [
        requests, requestDuration, toolCalls, toolCallDuration, toolRetries,
        rateLimitWaits, rateLimitWait, rateLimitRejections,
        cacheHits, cacheMisses, cacheEvictions, cacheEntries, cacheBytes, cacheCompressedBytes, cacheSharedJoins,
        providerRequests, providerFailures, providerTokens, httpRequests,
        connectionsOpen, requestsInflight, slowReadersDropped, overloadRefusals, queueRunning, queueQueued, rateLimitLevel,
        clusterUp, clusterRTT, clusterSharedHits, clusterLeaseWaits, clusterFallbacks, clusterDegradations,
        uptime, buildInfo,
    ]
}
