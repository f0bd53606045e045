/// The configuration the benchmark gives the daemon it starts: the builtin tools, `echo` cached for
/// an hour, the global cap lifted for `batch-sleep`, room in the cache for `cache-memory`, and the
/// mock provider for `orchestrate-mock`. Everything else is the shipped default.
enum BenchConfig {
    static let text = """
        # toolformer-bench's own configuration (docs/benchmarks.md)
        [server]
        drain_timeout_ms = 2000

        [orchestrator]
        max_concurrency = 10000          # batch-sleep: 10,000 sleeps at once
        default_provider = "mock"

        [cache]
        max_entries = 200000             # cache-memory: 100,000 entries and no eviction
        max_bytes = 2147483648

        [providers.mock]
        kind = "mock"

        [tools.echo]
        kind = "builtin"
        cache_ttl_s = 3600               # cached-call and orchestrate-mock

        [tools.sleep]
        kind = "builtin"

        """
}
