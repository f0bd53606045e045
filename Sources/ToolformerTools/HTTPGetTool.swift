import AsyncHTTPClient
import NIOHTTP1
public import ToolformerCore
public import ToolformerHTTP
public import ToolformerProtocol

/// The builtin `http_get`: `{"url": "https://..."}` fetched with GET through the shared client.
///
/// Redirects are followed (up to five). Results and failures map as for ``HTTPTool``: below 400
/// the body; 408, 429, 5xx and connection trouble a retryable ``ToolFailure``; other 4xx and a
/// body over the cap a result with `isError`.
public struct HTTPGetTool: Tool {
    public let definition: ToolDefinition
    private let client: SharedHTTPClient
    private let maxResponseBytes: Int
    private let timeoutMs: Int

    public init(config: ToolConfig, client: SharedHTTPClient, maxResponseBytes: Int = 8 << 20) {
        definition = ToolDefinition(
            config: config, description: "Fetches an http or https URL with GET and returns the response body.",
            inputSchema: [
                "type": "object",
                "properties": ["url": ["type": "string", "description": "An http:// or https:// URL."]],
                "required": ["url"],
            ])
        self.client = client
        self.maxResponseBytes = max(0, maxResponseBytes)
        timeoutMs = config.timeoutMs
    }

    public func call(_ arguments: JSONObject) async throws -> ToolOutput {
        try Task.checkCancellation()
        guard let url = arguments["url"]?.stringValue else { return .failure("'url' must be a string") }
        guard HTTPToolCommon.hasHTTPScheme(url) else { return .failure("'url' must start with http:// or https://") }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: HTTPToolCommon.userAgent)
        let response: HTTPResponseData
        do {
            response = try await client.fetch(
                request, deadline: HTTPToolCommon.deadline(timeoutMs: timeoutMs), maxBodyBytes: maxResponseBytes)
        } catch {
            return try HTTPToolCommon.output(for: error)
        }
        return try HTTPToolCommon.output(for: response, secrets: [])
    }
}
