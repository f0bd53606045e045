/// Why ``SharedHTTPClient/fetch(_:deadline:maxBodyBytes:errorBodyBytes:redirects:logger:)`` gave
/// up on a response it did receive. Messages never quote header values.
public struct SharedHTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case bodyTooLarge(limit: Int)
        case tooManyRedirects(limit: Int)
        case unsupportedRedirect
    }

    private let code: Code

    private init(_ code: Code) { self.code = code }

    /// The body is longer than the caller's cap; reading stopped there.
    public static func bodyTooLarge(limit: Int) -> SharedHTTPClientError { .init(.bodyTooLarge(limit: limit)) }
    /// The server redirected more often than the policy allows.
    public static func tooManyRedirects(limit: Int) -> SharedHTTPClientError { .init(.tooManyRedirects(limit: limit)) }
    /// A redirect's `Location` is not an `http` or `https` URL.
    public static let unsupportedRedirect = SharedHTTPClientError(.unsupportedRedirect)

    public var description: String {
        switch code {
        case .bodyTooLarge(let limit): "response body exceeds \(limit) bytes"
        case .tooManyRedirects(let limit): "more than \(limit) redirects"
        case .unsupportedRedirect: "redirect to a URL that is not http or https"
        }
    }
}
