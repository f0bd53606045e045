public import Logging

/// The daemon's whole configuration: the main file plus every `tools.d/*.toml` drop-in, validated.
///
/// Every default lives in the property initializers of these structs, so `ToolformerConfig()` is
/// exactly what an empty file means. Read a file with ``load(path:)``; see `docs/configuration.md`.
public struct ToolformerConfig: Sendable, Equatable {
    /// `[server]`: the socket and who may use it.
    public var server = Server()
    /// `[orchestrator]`: global concurrency, deadlines and the LLM provider chain.
    public var orchestrator = Orchestrator()
    /// `[retry]`: the policy every tool and provider starts from.
    public var retry = Retry()
    /// `[cache]`: the result cache.
    public var cache = Cache()
    /// `[http]`: the one HTTP client every tool and provider shares.
    public var http = HTTP()
    /// `[metrics]`: the optional Prometheus listener.
    public var metrics = Metrics()
    /// `[log]`.
    public var log = Log()
    /// `[rate_limits.NAME]`, keyed by name.
    public var rateLimits: [String: RateLimitConfig] = [:]
    /// `[cluster]`; `nil` when the section is absent, which means single-host behaviour.
    public var cluster: Cluster? = nil
    /// `[providers.NAME]`, keyed by name. A file that declares no provider at all gets `mock`,
    /// so that an empty file still names a provider that exists.
    public var providers: [String: ProviderConfig] = ["mock": ProviderConfig(name: "mock", kind: .mock)]
    /// `[tools.NAME]`, keyed by name. Builtin tools exist only where declared.
    public var tools: [String: ToolConfig] = [:]
    /// `[mcp_servers.NAME]`, keyed by name.
    public var mcpServers: [String: MCPServerConfig] = [:]

    /// The configuration an empty file gives.
    public init() {}

    /// The configuration an empty file gives.
    public static let `default` = ToolformerConfig()
}

extension ToolformerConfig {
    /// `[server]`.
    public struct Server: Sendable, Equatable {
        /// `socket`: where to bind; `nil` means the default path (which depends on how the daemon
        /// runs). Unused under socket activation.
        public var socket: String? = nil
        /// `socket_mode`: permission bits of the socket file, from an octal string such as `"0660"`.
        public var socketMode: UInt32 = 0o660
        /// `socket_group`: group of the socket file; `nil` means the daemon's own.
        public var socketGroup: String? = nil
        /// `max_connections`: connections open at once.
        public var maxConnections = 1024
        /// `max_line_bytes`: longest request line; longer ones get -32600 `line_too_long`.
        public var maxLineBytes = 4_194_304
        /// `max_inflight_per_connection`: requests in flight on one connection.
        public var maxInflightPerConnection = 128
        /// `max_connections_per_uid`: connections one uid may hold open at once, so that one user
        /// cannot take every connection.
        public var maxConnectionsPerUid = 256
        /// `slow_reader_timeout_ms`: how long a client may leave the daemon's answers unread (its
        /// socket full) before the daemon stops reading from it and, after this long, closes it.
        public var slowReaderTimeoutMs = 30_000
        /// `allowed_uids`: may connect, besides root and the daemon's own uid.
        public var allowedUids: [UInt32] = []
        /// `allowed_groups`: members of these groups may connect.
        public var allowedGroups: [String] = []
        /// `admin_uids`: may call `daemon/reload` and `cache/clear`, besides root.
        public var adminUids: [UInt32] = []
        /// `admin_groups`: members of these groups are admins.
        public var adminGroups: [String] = []
        /// `drain_timeout_ms`: on SIGTERM, how long requests in flight may take to finish.
        public var drainTimeoutMs = 20_000

        public init() {}
    }

    /// `[orchestrator]`.
    public struct Orchestrator: Sendable, Equatable {
        /// `max_concurrency`: tool executions at once, all clients together.
        public var maxConcurrency = 512
        /// `default_tool_timeout_ms`: the timeout of a tool that sets none.
        public var defaultToolTimeoutMs = 30_000
        /// `max_request_ms`: no request lives longer.
        public var maxRequestMs = 300_000
        /// `default_provider`: a declared provider's name.
        public var defaultProvider = "mock"
        /// `fallback_providers`: tried in order when the default fails after its retries.
        public var fallbackProviders: [String] = []
        /// `max_turns`: rounds of LLM -> tools in one `orchestrate`.
        public var maxTurns = 8
        /// `max_queued`: tool calls that may wait for a slot, all clients together; past it a call
        /// is refused at once with -32002 `overloaded` and `retryAfterMs`.
        public var maxQueued = 16_384
        /// `max_result_bytes`: a tool's result text beyond this is cut, with a marker saying so.
        public var maxResultBytes = 4_194_304

        public init() {}
    }

    /// `[retry]`, and the resolved policy of each tool, provider and MCP server.
    ///
    /// Backoff is exponential with full jitter; `Retry-After` is honoured.
    public struct Retry: Sendable, Equatable {
        /// `max_attempts`: attempts in all, the first one included (1 = no retry).
        public var maxAttempts = 3
        /// `initial_backoff_ms`: the backoff before the second attempt.
        public var initialBackoffMs = 200
        /// `max_backoff_ms`: the cap of the exponential backoff.
        public var maxBackoffMs = 10_000

        public init() {}
    }

    /// `[cache]`.
    public struct Cache: Sendable, Equatable {
        /// `max_entries`.
        public var maxEntries = 100_000
        /// `max_bytes`.
        public var maxBytes = 268_435_456
        /// `default_ttl_s`: the TTL of a tool that sets no `cache_ttl_s`; 0 means uncached.
        public var defaultTTLSeconds = 0
        /// `compress_min_bytes`: results at least this large are stored compressed.
        public var compressMinBytes = 8192
        /// `dir`: the on-disk tier that survives restarts; `nil` means memory only.
        public var directory: String? = nil

        public init() {}
    }

    /// `[http]`: the shared HTTP client.
    public struct HTTP: Sendable, Equatable {
        /// `max_connections_per_host`.
        public var maxConnectionsPerHost = 16
        /// `idle_timeout_ms`: how long an idle pooled connection is kept.
        public var idleTimeoutMs = 60_000
        /// `connect_timeout_ms`.
        public var connectTimeoutMs = 5000

        public init() {}
    }

    /// `[metrics]`.
    public struct Metrics: Sendable, Equatable {
        /// `listen`: where to serve `/metrics` over HTTP; `nil` (the file's `""`) means nowhere,
        /// `daemon/metrics` still works.
        public var listen: Endpoint? = nil

        public init() {}
    }

    /// A `host:port` pair; an IPv6 host is written `[::1]:9464` in the file and kept here without
    /// the brackets.
    public struct Endpoint: Sendable, Equatable, Hashable {
        /// A hostname, an IPv4 address or an IPv6 address without brackets.
        public var host: String
        /// 1...65535.
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// `[log]`.
    public struct Log: Sendable, Equatable {
        /// `level`: trace, debug, info, notice, warning, error or critical.
        public var level: Logger.Level = .info

        public init() {}
    }

    /// `[cluster]`: the Redis that daemons share results, single-flight leases and `shared = true`
    /// rate limits through.
    public struct Cluster: Sendable, Equatable {
        /// `redis_url`: `redis://[user:pass@]host[:port][/db]` or `unix:///path[?db=N]`. May hold a
        /// password, so errors never quote it; see ``RedisEndpoint``.
        public var redisURL = "redis://127.0.0.1:6379/0"
        /// `password_file` or `credential`; `nil` when neither is set.
        public var password: Secret? = nil
        /// `key_prefix`: prepended to every Redis key the daemon uses.
        public var keyPrefix = "toolformer:"
        /// `connect_timeout_ms`.
        public var connectTimeoutMs = 1000
        /// `command_timeout_ms`: a slower Redis counts as unreachable.
        public var commandTimeoutMs = 250
        /// `pool_size`: connections to Redis.
        public var poolSize = 4
        /// `max_value_bytes`: the largest cached result (as stored: compressed) written to Redis.
        public var maxValueBytes = 1 << 20

        public init() {}
    }

    /// Where a secret comes from. The configuration holds only where to look, never the secret,
    /// and is read when the secret is needed, not at load.
    public enum Secret: Sendable, Equatable, Hashable {
        /// `api_key_env`: the name of an environment variable.
        case environment(String)
        /// `api_key_file` / `password_file`: an absolute path.
        case file(String)
        /// `credential`: a systemd credential's name (`LoadCredential=`), found in
        /// `$CREDENTIALS_DIRECTORY`.
        case systemdCredential(String)
    }
}
