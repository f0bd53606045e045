/// A tool run that failed in a way the orchestrator acts on.
///
/// A tool returns a ``ToolOutput`` (with `isError` for failures that retrying cannot fix: a 404, a
/// non-zero exit not listed in `retry_exit_codes`), and throws this when the same call may succeed
/// later: a refused connection, HTTP 408/429/5xx, a listed exit code. The orchestrator then retries
/// with backoff, honouring `retryAfter`, until the tool's attempts or the deadline run out, and the
/// last failure's message becomes the result's text.
public struct ToolFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var retryable: Bool
    /// What the server asked for (`Retry-After`); the backoff never waits less.
    public var retryAfter: Duration?

    public init(_ message: String, retryable: Bool, retryAfter: Duration? = nil) {
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public static func transient(_ message: String, retryAfter: Duration? = nil) -> ToolFailure {
        ToolFailure(message, retryable: true, retryAfter: retryAfter)
    }

    public var description: String { message }
}
