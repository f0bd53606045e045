/// `[mcp_servers.NAME]`: an MCP server whose tools the daemon offers as its own.
///
/// The daemon runs each one (ToolformerMCP) and offers its tools as `NAME__tool`. Common keys
/// resolve as ``ToolConfig``'s do.
public struct MCPServerConfig: Sendable, Equatable {
    /// `command = [...]`: a child process spoken to over stdio.
    public struct Stdio: Sendable, Equatable {
        /// `command`: non-empty; `command[0]` is an absolute path, as for exec tools, so that
        /// nothing depends on the daemon's `PATH`.
        public var command: [String]
        /// `env`: the child's whole environment.
        public var environment: [String: String] = [:]
        /// `cwd`: an absolute path; `nil` leaves the daemon's.
        public var workingDirectory: String? = nil

        public init(command: [String]) {
            self.command = command
        }
    }

    /// `url = "..."`: a server spoken to over MCP's Streamable HTTP.
    public struct Remote: Sendable, Equatable {
        /// `url`: `http://` or `https://`.
        public var url: String
        /// `headers`. Values may be secret, so errors never quote them.
        public var headers: [String: String] = [:]

        public init(url: String) {
            self.url = url
        }
    }

    /// Exactly one of `command` or `url`.
    public enum Transport: Sendable, Equatable {
        case stdio(Stdio)
        case remote(Remote)
    }

    /// The table's name, matching `^[a-zA-Z0-9_-]{1,64}$`.
    public var name: String
    /// `command` or `url`, with the keys that belong to it.
    public var transport: Transport
    /// `timeout_ms`: each tool call.
    public var timeoutMs = ToolformerConfig.Orchestrator().defaultToolTimeoutMs
    /// `max_concurrency`: calls to this server at once; `nil` means only the global cap.
    public var maxConcurrency: Int? = nil
    /// `rate_limit`: the name of a declared `[rate_limits.*]` bucket.
    public var rateLimit: String? = nil
    /// `cache_ttl_s`: > 0 caches its tools' results that long.
    public var cacheTTLSeconds = ToolformerConfig.Cache().defaultTTLSeconds
    /// `ping_interval_ms`: how often a running server is pinged; one that does not answer within
    /// the same time is restarted.
    public var pingIntervalMs = 10_000
    /// `retry`: the top-level `[retry]` with this server's inline overrides applied.
    public var retry = ToolformerConfig.Retry()

    /// A server with every other key at its default.
    public init(name: String, transport: Transport) {
        self.name = name
        self.transport = transport
    }
}
