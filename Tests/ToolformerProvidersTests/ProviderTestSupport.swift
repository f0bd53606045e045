import Foundation
import Logging
import NIOPosix
import Synchronization
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol
import ToolformerProviders
import ToolformerTesting

/// The shared in-memory logs (ToolformerTesting), under the name these tests use.
typealias ProviderTestLogs = RecordingLogs

let providerTestQuietLogger = RecordingLogs.quiet

/// Runs `body` with a shared client that is shut down afterwards, whatever happens.
func withProviderHTTPClient<T>(
    logger: Logger = providerTestQuietLogger, _ body: (SharedHTTPClient) async throws -> T
) async throws -> T {
    let client = SharedHTTPClient(
        configuration: ToolformerConfig.HTTP(), eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// A provider table pointing at `server`'s `/v1`, with its key in `API_KEY`.
func providerConfig(
    _ kind: ProviderConfig.Kind, baseURL: String, name: String? = nil,
    key: ToolformerConfig.Secret? = .environment("API_KEY"),
    timeoutMs: Int = 10_000, headers: [String: String] = [:]
) -> ProviderConfig {
    var config = ProviderConfig(name: name ?? kind.rawValue, kind: kind)
    config.baseURL = baseURL + "/v1"
    config.apiKey = key
    config.timeoutMs = timeoutMs
    config.headers = headers
    return config
}

/// The body of a recorded request as JSON.
func jsonBody(_ request: RecordedRequest) throws -> JSONValue {
    try JSONParser().parse(request.body)
}

/// The `ProviderFailure` that `body` throws, or `nil` when it returned or threw something else.
func providerFailure(_ body: () async throws -> LLMResponse) async -> ProviderFailure? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error as? ProviderFailure
    }
}

/// The `ProviderSetupError` that `body` throws, or `nil`.
func setupError<T>(_ body: () throws(ProviderSetupError) -> T) -> ProviderSetupError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// A fresh directory under the temporary directory.
func makeProviderTestDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.path + "/toolformer-providers-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A port on 127.0.0.1 that nothing listens on (a test server's, after it closed).
func closedProviderPort() async throws -> Int {
    let server = try await TestHTTPServer { _ in TestHTTPResponse() }
    let port = server.port
    try await server.shutdown()
    return port
}

/// The conversation both providers' request tests send: a system prompt, the user's question,
/// the assistant's two parallel calls, and both results (the second an error).
enum Conversation {
    static let weatherSchema: JSONValue = [
        "type": "object", "properties": ["city": ["type": "string"]], "required": ["city"],
    ]
    static let tools = [
        ToolDefinition(name: "weather", description: "Current weather for a city.", inputSchema: weatherSchema),
        ToolDefinition(name: "echo", description: "Returns its arguments.", inputSchema: ["type": "object"]),
    ]

    static func request(assistantText: String = "", callIDs: (String, String)) -> LLMRequest {
        LLMRequest(
            model: "test-model",
            messages: [
                .system("Be brief."),
                .user("Weather in Paris and Oslo?"),
                ChatMessage(
                    role: .assistant, text: assistantText,
                    toolCalls: [
                        ModelToolCall(
                            id: callIDs.0, name: "weather", rawArguments: #"{"city":"Paris"}"#,
                            arguments: ["city": "Paris"]),
                        ModelToolCall(
                            id: callIDs.1, name: "weather", rawArguments: #"{"city":"Oslo"}"#,
                            arguments: ["city": "Oslo"]),
                    ]),
                .toolResult(id: callIDs.0, text: "18 °C, sunny", isError: false),
                .toolResult(id: callIDs.1, text: "HTTP 503: upstream down", isError: true),
            ],
            tools: tools, maxTokens: 512)
    }
}
