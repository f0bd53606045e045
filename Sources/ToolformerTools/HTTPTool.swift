import AsyncHTTPClient
import NIOHTTP1
public import ToolformerCore
public import ToolformerHTTP
public import ToolformerProtocol

/// `kind = "http"`: one request per call through the daemon's shared HTTP client.
///
/// The URL's `{arg}` placeholders take the call's arguments, percent-encoded; POST, PUT and PATCH
/// send the arguments as a JSON body. The configured headers may use `${NAME}` (the daemon's
/// environment) and `${credential:NAME}` (systemd `LoadCredential=`), resolved once when the tool
/// is built. Header values are secrets: they appear in no result, error or log, and are cut out of
/// what the server sends back.
///
/// Outcomes: below 400 the body is the result (a JSON object also as `structuredContent`); 408,
/// 429 and 5xx, a refused, reset or timed-out connection throw a retryable ``ToolFailure`` (with
/// `Retry-After`); other 4xx and a body over the cap are results with `isError`. Cancelling the
/// calling task aborts the request in flight and `call` throws `CancellationError`.
public struct HTTPTool: Tool {
    /// Methods whose requests carry the arguments as a JSON body.
    static let methodsWithBody: Set<String> = ["POST", "PUT", "PATCH"]

    public let definition: ToolDefinition
    private let method: HTTPMethod
    private let template: HTTPURLTemplate
    private let headers: Result<HTTPHeaderTemplate.Resolved, HTTPHeaderTemplate.ResolveError>
    private let client: SharedHTTPClient
    private let maxResponseBytes: Int
    private let timeoutMs: Int

    /// - Parameters:
    ///   - environment: what `${NAME}` in a header reads, normally the daemon's own environment.
    ///   - credentialsDirectory: `$CREDENTIALS_DIRECTORY`, where `${credential:NAME}` reads files.
    ///   - maxResponseBytes: a longer body fails the call; reading stops at the cap.
    public init(
        config: ToolConfig, http: ToolConfig.HTTP, client: SharedHTTPClient, environment: [String: String],
        credentialsDirectory: String?, maxResponseBytes: Int = 8 << 20
    ) {
        let methodName = http.method.uppercased()
        template = HTTPURLTemplate(http.url)
        var schema: JSONObject = ["type": "object"]
        let placeholders = template.placeholders
        if !placeholders.isEmpty {
            schema["properties"] = .object(
                JSONObject(placeholders.map { (key: $0, value: ["type": ["string", "number"]]) }))
            schema["required"] = .array(placeholders.map { .string($0) })
        }
        definition = ToolDefinition(
            config: config, description: "Calls \(methodName) \(http.url).", inputSchema: .object(schema))
        method = HTTPMethod(rawValue: methodName)
        headers = HTTPHeaderTemplate.resolve(
            http.headers, environment: environment, credentialsDirectory: credentialsDirectory)
        self.client = client
        self.maxResponseBytes = max(0, maxResponseBytes)
        timeoutMs = config.timeoutMs
    }

    public func call(_ arguments: JSONObject) async throws -> ToolOutput {
        try Task.checkCancellation()
        let resolved: HTTPHeaderTemplate.Resolved
        switch headers {
        case .success(let value): resolved = value
        case .failure(let error): return .failure(error.description)
        }
        let url: String
        switch template.expand(arguments) {
        case .success(let value): url = value
        case .failure(let error): return .failure(error.description)
        }
        guard HTTPToolCommon.hasHTTPScheme(url) else { return .failure("the URL must start with http:// or https://") }

        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in resolved.headers { request.headers.add(name: name, value: value) }
        if !request.headers.contains(name: "user-agent") {
            request.headers.add(name: "User-Agent", value: HTTPToolCommon.userAgent)
        }
        if Self.methodsWithBody.contains(method.rawValue) {
            if !request.headers.contains(name: "content-type") {
                request.headers.add(name: "Content-Type", value: "application/json")
            }
            request.body = .bytes(JSONWriter.bytes(.object(arguments)))
        }

        let response: HTTPResponseData
        do {
            response = try await client.fetch(
                request, deadline: HTTPToolCommon.deadline(timeoutMs: timeoutMs), maxBodyBytes: maxResponseBytes,
                redirects: HTTPRedirectPolicy(maxRedirects: 5, sensitiveHeaders: resolved.sensitiveNames))
        } catch {
            return try HTTPToolCommon.output(for: error)
        }
        return try HTTPToolCommon.output(for: response, secrets: resolved.secrets)
    }
}
