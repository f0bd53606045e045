/// `[tools.NAME]`: one tool the daemon offers.
///
/// The common keys are resolved: a tool that sets no `timeout_ms` holds
/// `orchestrator.default_tool_timeout_ms`, no `cache_ttl_s` holds `cache.default_ttl_s`, and
/// `retry` is the top-level `[retry]` with the tool's inline overrides applied.
public struct ToolConfig: Sendable, Equatable {
    /// The builtin tools, by the name the file uses.
    public enum Builtin: String, Sendable, Equatable, Hashable, CaseIterable {
        case echo
        case sleep
        case now
        case httpGet = "http_get"
    }

    /// `kind = "exec"`: a program run with an argv, never through a shell.
    public struct Exec: Sendable, Equatable {
        /// `argv`: non-empty; `argv[0]` is an absolute path.
        public var argv: [String]
        /// `env`: added to a clean environment (`PATH`, `LANG=C.UTF-8`); nothing of the daemon's is inherited.
        public var environment: [String: String] = [:]
        /// `cwd`: an absolute path; `nil` leaves the daemon's.
        public var workingDirectory: String? = nil
        /// `retry_exit_codes`: exit statuses that count as transient and are retried; any other
        /// non-zero status is a result with `isError: true`.
        public var retryExitCodes: [Int] = []

        public init(argv: [String]) {
            self.argv = argv
        }
    }

    /// `kind = "http"`: one HTTP request per call.
    public struct HTTP: Sendable, Equatable {
        /// `method`, upper case.
        public var method = "GET"
        /// `url`: `http://` or `https://`; `{arg}` is replaced by that argument, URL-encoded.
        public var url: String
        /// `headers`. Values may be secret, so errors never quote them.
        public var headers: [String: String] = [:]

        public init(url: String) {
            self.url = url
        }
    }

    /// `kind` and the keys that belong to it.
    public enum Kind: Sendable, Equatable {
        /// `kind = "builtin"`: the tool's own name, or its `builtin` key.
        case builtin(Builtin)
        case exec(Exec)
        case http(HTTP)
    }

    /// The table's name, matching `^[a-zA-Z0-9_-]{1,64}$`.
    public var name: String
    /// `kind` and its keys.
    public var kind: Kind
    /// `description`; `nil` when unset.
    public var description: String? = nil
    /// `input_schema`: the raw JSON text, checked at load to be a JSON object; `nil` means the tool
    /// takes any JSON object.
    public var inputSchema: String? = nil
    /// `timeout_ms`: each attempt.
    public var timeoutMs = ToolformerConfig.Orchestrator().defaultToolTimeoutMs
    /// `rate_limit`: the name of a declared `[rate_limits.*]` bucket.
    public var rateLimit: String? = nil
    /// `cache_ttl_s`: > 0 caches results that long; 0 means uncached.
    public var cacheTTLSeconds = ToolformerConfig.Cache().defaultTTLSeconds
    /// `max_concurrency`: executions of this tool at once; `nil` means only the global cap.
    public var maxConcurrency: Int? = nil
    /// `retry`: the top-level `[retry]` with this tool's inline overrides applied.
    public var retry = ToolformerConfig.Retry()
    /// `idempotent`: may be retried after a timeout, and hedged.
    public var idempotent = false
    /// `hedge_after_ms`: start a second attempt if the first is this slow; 0 means never.
    public var hedgeAfterMs = 0

    /// A tool with every other key at its default.
    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }
}
