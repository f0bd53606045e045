public import Logging
public import ToolformerCore
public import ToolformerHTTP

/// Builds the provider a `[providers.NAME]` table describes.
public enum ProviderFactory {
    /// An ``OpenAIProvider`` or ``AnthropicProvider`` on the shared client; `nil` for `mock`,
    /// which the core provides itself. Throws when the API key is not where the table says.
    public static func make(
        _ config: ProviderConfig, client: SharedHTTPClient, environment: [String: String], logger: Logger
    ) throws(ProviderSetupError) -> (any LLMProvider)? {
        switch config.kind {
        case .mock: nil
        case .openai: try OpenAIProvider(config: config, client: client, environment: environment, logger: logger)
        case .anthropic: try AnthropicProvider(config: config, client: client, environment: environment, logger: logger)
        }
    }
}
