/// `[providers.NAME]`: one LLM endpoint.
public struct ProviderConfig: Sendable, Equatable {
    /// `kind`.
    public enum Kind: String, Sendable, Equatable, Hashable, CaseIterable {
        /// Deterministic and offline; for demos and tests.
        case mock
        /// Any OpenAI-compatible Chat Completions endpoint.
        case openai
        /// Anthropic's Messages API.
        case anthropic

        /// The `base_url` a provider of this kind gets when it sets none; "" for `mock`.
        public var defaultBaseURL: String {
            switch self {
            case .mock: ""
            case .openai: "https://api.openai.com/v1"
            case .anthropic: "https://api.anthropic.com/v1"
            }
        }

        /// The `model` a provider of this kind gets when it sets none.
        public var defaultModel: String {
            switch self {
            case .mock: "mock"
            case .openai: "gpt-4o-mini"
            case .anthropic: "claude-sonnet-4-5"
            }
        }
    }

    /// The table's name, matching `^[a-zA-Z0-9_-]{1,64}$`.
    public var name: String
    /// `kind`.
    public var kind: Kind
    /// `base_url`: the API root up to and including its version segment; the client appends
    /// `/chat/completions` or `/messages`. "" for `mock`.
    public var baseURL: String
    /// `model`.
    public var model: String
    /// `api_key_env`, `api_key_file` or `credential` (at most one); `nil` sends no key, which
    /// some local OpenAI-compatible servers want.
    public var apiKey: ToolformerConfig.Secret? = nil
    /// `rate_limit`: the name of a declared `[rate_limits.*]` bucket.
    public var rateLimit: String? = nil
    /// `timeout_ms`: one request to the provider, each attempt.
    public var timeoutMs = 60_000
    /// `cache_ttl_s`: > 0 caches identical requests' responses that long.
    public var cacheTTLSeconds = 0
    /// `headers`: sent with every request, e.g. an organisation id. Values may be secret, so
    /// errors never quote them.
    public var headers: [String: String] = [:]
    /// `retry`: the top-level `[retry]` with this provider's inline overrides applied.
    public var retry = ToolformerConfig.Retry()

    /// A provider with every other key at its default (`base_url` and `model` by kind).
    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
        self.baseURL = kind.defaultBaseURL
        self.model = kind.defaultModel
    }
}
