import NIOCore
import NIOHTTP1
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol

/// What the HTTP tool kinds share: request defaults, and how a response or an error becomes a
/// result, a retryable failure or a result with `isError`.
enum HTTPToolCommon {
    /// How much of an error body a failure quotes.
    static let snippetCharacters = 200
    /// Sent unless a tool configures its own.
    static let userAgent = "toolformerd/\(ToolformerVersion.current)"

    static func hasHTTPScheme(_ url: String) -> Bool {
        let lowered = url.prefix(8).lowercased()
        return lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    /// The orchestrator enforces `timeout_ms` by cancelling the call; the client's own deadline
    /// (which covers the wait for the response head) is a backstop a second later, so that the
    /// orchestrator's timeout, with its own retry rules, is the one that fires.
    static func deadline(timeoutMs: Int) -> NIODeadline {
        .now() + .milliseconds(Int64(max(0, timeoutMs)) + 1000)
    }

    /// Below 400: the body as the result (a JSON object also as `structuredContent`). 408, 429 and
    /// 5xx: a retryable ``ToolFailure`` carrying `Retry-After`. Any other 400+: a result with
    /// `isError`, never retried. Secrets are cut out of whatever the server sent back.
    static func output(for response: HTTPResponseData, secrets: [[UInt8]]) throws -> ToolOutput {
        let code = Int(response.status.code)
        let body = redact(response.body, secrets: secrets)
        if code >= 400 {
            let message = "HTTP \(code): \(snippet(body, truncated: response.bodyTruncated, status: response.status))"
            if code == 408 || code == 429 || (500...599).contains(code) {
                let retryAfter = response.headers.first(name: "retry-after").flatMap { HTTPRetryAfter.parse($0) }
                throw ToolFailure.transient(message, retryAfter: retryAfter)
            }
            return .failure(message)
        }
        if body.isEmpty { return ToolOutput(text: "HTTP \(code), empty body") }
        if body.first == UInt8(ascii: "{") || body.first.map(isJSONWhitespace) == true,
            let value = try? JSONParser().parse(body), value.objectValue != nil
        {
            return .json(value)
        }
        return ToolOutput(text: String(decoding: body, as: UTF8.self))
    }

    /// A thrown error as the tool's outcome: cancellation stays cancellation, transport trouble
    /// that may pass is a retryable ``ToolFailure``, the rest a result with `isError`.
    static func output(for error: any Error) throws -> ToolOutput {
        if Task.isCancelled || error is CancellationError { throw CancellationError() }
        if let error = error as? SharedHTTPClientError { return .failure(error.description) }
        let failure = HTTPTransportFailure(error)
        if failure.isTransient { throw ToolFailure.transient(failure.message) }
        return .failure(failure.message)
    }

    /// The body's start on one line, for an error message; the reason phrase when it is empty.
    static func snippet(_ body: [UInt8], truncated: Bool, status: HTTPResponseStatus) -> String {
        var text = ""
        var pendingSpace = false
        var count = 0
        var cut = truncated
        for scalar in String(decoding: body, as: UTF8.self).unicodeScalars {
            if scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F {
                pendingSpace = !text.isEmpty
                continue
            }
            if count >= snippetCharacters {
                cut = true
                break
            }
            if pendingSpace {
                text.unicodeScalars.append(" ")
                count += 1
                pendingSpace = false
            }
            text.unicodeScalars.append(scalar)
            count += 1
        }
        if text.isEmpty { return status.reasonPhrase }
        return cut ? text + "…" : text
    }

    /// `bytes` with every occurrence of each secret replaced by `[REDACTED]`.
    static func redact(_ bytes: [UInt8], secrets: [[UInt8]]) -> [UInt8] {
        var bytes = bytes
        for secret in secrets where !secret.isEmpty && secret.count <= bytes.count {
            bytes = replacing(secret, in: bytes, with: Array("[REDACTED]".utf8))
        }
        return bytes
    }

    private static func replacing(_ needle: [UInt8], in haystack: [UInt8], with replacement: [UInt8]) -> [UInt8] {
        let first = needle[0]
        var out: [UInt8] = []
        var start = 0
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) {
                if out.isEmpty { out.reserveCapacity(haystack.count) }
                out += haystack[start..<i]
                out += replacement
                i += needle.count
                start = i
            } else {
                i += 1
            }
        }
        if start == 0 { return haystack }
        out += haystack[start...]
        return out
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
