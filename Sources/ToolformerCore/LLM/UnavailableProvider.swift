/// A configured provider that cannot be used (its API key was not found): every request fails at
/// once with the reason, so the daemon still starts and the next provider in the chain is tried.
public struct UnavailableProvider: LLMProvider {
    public let name: String
    public let defaultModel = ""
    public let reason: String

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }

    public func complete(_ request: LLMRequest) async throws -> LLMResponse {
        throw ProviderFailure(status: nil, message: "provider \(name) is not available: \(reason)", retryable: false)
    }
}
