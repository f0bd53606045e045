public import Logging
public import ToolformerCore
public import ToolformerHTTP

/// Any OpenAI-compatible Chat Completions endpoint (`kind = "openai"`): OpenAI itself, and local
/// servers such as Ollama, llama.cpp and vLLM.
///
/// `POST {base_url}/chat/completions` with `Authorization: Bearer KEY`, or with no
/// `Authorization` at all when the configuration names no key (local servers want none). The
/// configured `headers` go with every request and replace a default of the same name.
///
/// One request per ``complete(_:)``: retries, fallbacks and budgets are the caller's. Cancelling
/// the calling task aborts the request and throws `CancellationError`; everything else that goes
/// wrong throws a ``ProviderFailure`` (see ``ProviderTransport``).
public struct OpenAIProvider: LLMProvider {
    public let name: String
    public let defaultModel: String
    let transport: ProviderTransport
    /// `max_completion_tokens` for OpenAI's own API, `max_tokens` elsewhere (see
    /// ``maxTokensField(baseURL:)``).
    let maxTokensField: String

    /// Resolves the API key now, so that a missing one fails the configuration, not each request.
    public init(
        config: ProviderConfig, client: SharedHTTPClient, environment: [String: String], logger: Logger
    ) throws(ProviderSetupError) {
        let key = try ProviderAPIKey.resolve(config.apiKey, provider: config.name, environment: environment)
        name = config.name
        defaultModel = config.model
        maxTokensField = Self.maxTokensField(baseURL: config.baseURL)
        transport = try ProviderTransport(
            config: config, path: "/chat/completions",
            authentication: key.map { [(name: "Authorization", value: "Bearer \($0)")] } ?? [], key: key,
            client: client, logger: logger)
    }

    public func complete(_ request: LLMRequest) async throws -> LLMResponse {
        try Task.checkCancellation()
        let model = request.model.isEmpty ? defaultModel : request.model
        let body = try Self.body(for: request, model: model, maxTokensField: maxTokensField)
        let answer = try await transport.post(body)
        return try Self.response(from: answer, requestedModel: model, transport: transport)
    }

    /// OpenAI deprecated `max_tokens` in favour of `max_completion_tokens`, which its reasoning
    /// models (o-series, gpt-5) require; but compatible servers document only `max_tokens` (Ollama
    /// lists no other) and ignore a field they do not know, which would drop the cap silently.
    /// So the newer field goes to OpenAI's own hosts and the older one everywhere else.
    static func maxTokensField(baseURL: String) -> String {
        let host = Self.host(of: baseURL)
        if host == "api.openai.com" || host.hasSuffix(".openai.azure.com") { return "max_completion_tokens" }
        return "max_tokens"
    }

    /// The lower-cased host of an `http(s)://` URL, without user info or port.
    static func host(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { return String(rest[...close]).lowercased() }
        if let colon = rest.firstIndex(of: ":") { rest = rest[..<colon] }
        return rest.lowercased()
    }
}
