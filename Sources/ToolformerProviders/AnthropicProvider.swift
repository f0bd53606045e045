public import Logging
public import ToolformerCore
public import ToolformerHTTP

/// Anthropic's Messages API (`kind = "anthropic"`).
///
/// `POST {base_url}/messages` with `x-api-key: KEY` and `anthropic-version: 2023-06-01`; the
/// configured `headers` go with every request and replace a default of the same name (to send a
/// newer `anthropic-version`, or an `anthropic-beta`).
///
/// One request per ``complete(_:)``: retries, fallbacks and budgets are the caller's. Cancelling
/// the calling task aborts the request and throws `CancellationError`; everything else that goes
/// wrong throws a ``ProviderFailure`` (529 `overloaded_error` is retryable like any 5xx).
public struct AnthropicProvider: LLMProvider {
    /// The API version the request and response shapes here follow.
    public static let apiVersion = "2023-06-01"

    public let name: String
    public let defaultModel: String
    let transport: ProviderTransport

    /// Resolves the API key now, so that a missing one fails the configuration, not each request.
    public init(
        config: ProviderConfig, client: SharedHTTPClient, environment: [String: String], logger: Logger
    ) throws(ProviderSetupError) {
        let key = try ProviderAPIKey.resolve(config.apiKey, provider: config.name, environment: environment)
        name = config.name
        defaultModel = config.model
        var authentication: [(name: String, value: String)] = [("anthropic-version", Self.apiVersion)]
        if let key { authentication.insert(("x-api-key", key), at: 0) }
        transport = try ProviderTransport(
            config: config, path: "/messages", authentication: authentication, key: key, client: client,
            logger: logger)
    }

    public func complete(_ request: LLMRequest) async throws -> LLMResponse {
        try Task.checkCancellation()
        let model = request.model.isEmpty ? defaultModel : request.model
        let body = try Self.body(for: request, model: model)
        let answer = try await transport.post(body)
        return try Self.response(from: answer, requestedModel: model, transport: transport)
    }
}
