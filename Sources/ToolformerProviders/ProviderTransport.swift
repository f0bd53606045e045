import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol

/// What both API clients share: one POST of a JSON body through the daemon's shared HTTP client,
/// with the provider's headers and timeout, and every way it can fail turned into a
/// ``ProviderFailure`` that holds no secret.
///
/// Messages quote the error body's `error.message` at most (never a non-JSON body, never a
/// header), and even that with the API key and every configured header value cut out: some
/// servers echo the request's `Authorization` header in their 401.
struct ProviderTransport: Sendable {
    /// A model's answer is a few KiB; a body past this is not one.
    static let maxResponseBytes = 16 << 20
    /// How much of a server's error message a failure quotes.
    static let maxMessageCharacters = 300
    static let userAgent = "toolformerd/\(ToolformerVersion.current)"
    /// A week: longer timeouts are as good as none, and keep deadline arithmetic far from overflow.
    static let maxTimeoutMs = 7 * 24 * 3600 * 1000

    let provider: String
    /// `base_url` with the endpoint's path appended.
    let url: String
    let headers: HTTPHeaders
    /// What a message must never show, longest first.
    let secrets: [String]
    let timeoutMs: Int
    let client: SharedHTTPClient
    let logger: Logger

    /// - Parameters:
    ///   - path: appended to `base_url` (`/chat/completions`, `/messages`).
    ///   - authentication: the headers that carry the key; configured headers of the same name
    ///     replace them, as they replace every default, so that a proxy's own scheme can be used.
    init(
        config: ProviderConfig, path: String, authentication: [(name: String, value: String)], key: String?,
        client: SharedHTTPClient, logger: Logger
    ) throws(ProviderSetupError) {
        var base = Substring(config.baseURL)
        while base.hasSuffix("/") { base = base.dropLast() }
        let lowered = base.prefix(8).lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), base.count > 8 else {
            throw .invalidBaseURL(provider: config.name)
        }
        url = base + path

        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "User-Agent", value: Self.userAgent)
        for (name, value) in authentication { headers.add(name: name, value: value) }
        var secrets: Set<String> = []
        if let key, !key.isEmpty { secrets.insert(key) }
        for (name, value) in config.headers.sorted(by: { $0.key.lowercased() < $1.key.lowercased() }) {
            guard Self.isToken(name), value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw .invalidHeader(provider: config.name, name: name)
            }
            headers.replaceOrAdd(name: name, value: value)
            // Header values may be tokens; very short ones would only mangle ordinary words.
            if value.utf8.count >= 4 { secrets.insert(value) }
        }
        self.headers = headers
        self.secrets = secrets.sorted { $0.utf8.count > $1.utf8.count }
        provider = config.name
        timeoutMs = config.timeoutMs
        self.client = client
        self.logger = logger
    }

    /// POSTs `body` and returns the body of a 2xx answer.
    ///
    /// Throws `CancellationError` when the calling task is cancelled (the request is aborted and
    /// its connection closed), else a ``ProviderFailure``: retryable for 408, 409, 429, 5xx (529
    /// included), a timeout and a refused, reset or timed-out connection, honouring the official
    /// SDKs' `x-should-retry` and carrying `retry-after-ms` / `Retry-After`.
    func post(_ body: [UInt8]) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(body)

        let started = ContinuousClock.now
        let response: HTTPResponseData
        do {
            response = try await fetch(request)
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            let failure = error as? ProviderFailure ?? transportFailure(error)
            log(failure, started: started)
            throw failure
        }
        let code = Int(response.status.code)
        if (200...299).contains(code) {
            logger.debug(
                "provider answered",
                metadata: [
                    "provider.name": "\(provider)", "http.status": "\(code)",
                    "duration.ms": "\((ContinuousClock.now - started).wholeMilliseconds)",
                ])
            return response.body
        }
        let failure = statusFailure(response)
        log(failure, started: started)
        throw failure
    }

    /// A 200 whose body lacks what the API promises.
    func malformed(_ what: String) -> ProviderFailure {
        ProviderFailure(status: 200, message: "malformed response: \(what)", retryable: false)
    }

    /// A failure that an API reported inside a 2xx body (some compatible servers do).
    func embeddedError(_ root: JSONValue, status: Int) -> ProviderFailure? {
        guard root["error"] != nil, let text = Self.errorText(root) else { return nil }
        return ProviderFailure(status: status, message: sanitize(text), retryable: false)
    }

    // MARK: Failures

    private func statusFailure(_ response: HTTPResponseData) -> ProviderFailure {
        let code = Int(response.status.code)
        if (300...399).contains(code) {
            return ProviderFailure(
                status: code, message: "redirected; base_url must name the API itself", retryable: false)
        }
        var retryable = code == 408 || code == 409 || code == 429 || (500...599).contains(code)
        switch response.headers.first(name: "x-should-retry")?.lowercased() {
        case "true"?: retryable = true
        case "false"?: retryable = false
        default: break
        }
        let quoted = (try? JSONParser(maxDepth: 32).parse(response.body)).flatMap(Self.errorText).map(sanitize)
        let message: String
        if let quoted, !quoted.isEmpty {
            message = quoted
        } else if !response.status.reasonPhrase.isEmpty {
            message = response.status.reasonPhrase
        } else {
            message = "request failed"
        }
        return ProviderFailure(
            status: code, message: message, retryable: retryable, retryAfter: Self.retryAfter(response.headers))
    }

    private func transportFailure(_ error: any Error) -> ProviderFailure {
        if let error = error as? SharedHTTPClientError {
            return ProviderFailure(status: nil, message: error.description, retryable: false)
        }
        // Only the backstop deadline: the timer in `fetch` normally fires first.
        if let error = error as? HTTPClientError, error == .deadlineExceeded {
            return ProviderFailure(status: nil, message: "no answer within \(timeoutMs) ms", retryable: true)
        }
        let failure = HTTPTransportFailure(error)
        return ProviderFailure(status: nil, message: sanitize(failure.message), retryable: failure.isTransient)
    }

    private func log(_ failure: ProviderFailure, started: ContinuousClock.Instant) {
        logger.debug(
            "provider request failed",
            metadata: [
                "provider.name": "\(provider)", "http.status": "\(failure.status.map(String.init) ?? "none")",
                "provider.retryable": "\(failure.retryable)",
                "duration.ms": "\((ContinuousClock.now - started).wholeMilliseconds)",
            ])
    }

    /// The request, under `timeout_ms` from start to the body's last byte. The client's own
    /// deadline covers only the wait for the response head, so a timer races the whole exchange;
    /// losing the race cancels the fetch, which aborts the request.
    private func fetch(_ request: HTTPClientRequest) async throws -> HTTPResponseData {
        let client = client
        let timeoutMs = timeoutMs
        // `timeout_ms` may be as large as Int.max; NIO's nanosecond arithmetic is not.
        let waitMs = Int64(min(timeoutMs, Self.maxTimeoutMs))
        return try await withThrowingTaskGroup(of: HTTPResponseData?.self) { group in
            group.addTask {
                try await client.fetch(
                    request, deadline: .now() + .milliseconds(waitMs + 1000),
                    maxBodyBytes: Self.maxResponseBytes, redirects: .none)
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(waitMs))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw ProviderFailure(status: nil, message: "no answer within \(timeoutMs) ms", retryable: true)
            }
            return response
        }
    }

    // MARK: Text

    /// `error.message`, a bare string `error`, or a top-level `message` / `detail` (FastAPI-based
    /// servers): the forms OpenAI, Anthropic and the compatible servers use.
    static func errorText(_ root: JSONValue) -> String? {
        root["error"]?["message"]?.stringValue ?? root["error"]?.stringValue ?? root["message"]?.stringValue
            ?? root["detail"]?.stringValue
    }

    /// `text` on one line, secrets replaced by `[REDACTED]`, cut to ``maxMessageCharacters``.
    func sanitize(_ text: String) -> String {
        let redacted = redact(text)
        var out = ""
        var pendingSpace = false
        var count = 0
        for scalar in redacted.unicodeScalars {
            if scalar.properties.isWhitespace || scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                pendingSpace = !out.isEmpty
                continue
            }
            if count >= Self.maxMessageCharacters {
                out.unicodeScalars.append("…")
                break
            }
            if pendingSpace {
                out.unicodeScalars.append(" ")
                count += 1
                pendingSpace = false
            }
            out.unicodeScalars.append(scalar)
            count += 1
        }
        // Collapsing whitespace cannot assemble a secret, but checking again costs nothing.
        return redact(out)
    }

    func redact(_ text: String) -> String {
        var text = text
        for secret in secrets where !secret.isEmpty && text.contains(secret) {
            text = text.replacing(secret, with: "[REDACTED]")
        }
        return text
    }

    /// `retry-after-ms` (OpenAI's and Anthropic's SDKs prefer it), else `Retry-After` as
    /// delta-seconds, an HTTP-date, or the decimal seconds those SDKs also accept.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        if let value = headers.first(name: "retry-after-ms"), let ms = number(value) {
            return .milliseconds(ms)
        }
        guard let value = headers.first(name: "retry-after") else { return nil }
        if let duration = HTTPRetryAfter.parse(value) { return duration }
        return number(value).map { .milliseconds($0 * 1000) }
    }

    /// A finite, non-negative decimal, clamped to what a `Duration` of milliseconds holds easily.
    private static func number(_ text: String) -> Double? {
        let trimmed = ProviderAPIKey.trimmed(text)
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }),
            let value = Double(trimmed), value.isFinite
        else { return nil }
        return min(value, Double(Int32.max))
    }

    /// RFC 9110 `tchar`.
    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }
}

extension Duration {
    /// Whole milliseconds, for logs.
    fileprivate var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension JSONValue {
    /// An integer however the server wrote it (`12`, `12.0`); `nil` for anything else.
    var integer: Int? {
        if let value = intValue { return Int(clamping: value) }
        guard let value = numberValue, value.isFinite, value.magnitude < 1e15 else { return nil }
        return Int(value)
    }
}
