/// How ``SharedHTTPClient/fetch(_:deadline:maxBodyBytes:errorBodyBytes:redirects:logger:)`` treats
/// 301, 302, 303, 307 and 308.
public struct HTTPRedirectPolicy: Sendable, Equatable {
    /// Redirects followed at most; 0 returns the 3xx response itself.
    public var maxRedirects: Int
    /// Headers (any case) removed when a redirect leaves the original scheme, host and port, on top
    /// of `Authorization`, `Proxy-Authorization`, `Cookie` and `Origin`, which always are.
    public var sensitiveHeaders: Set<String>

    public init(maxRedirects: Int, sensitiveHeaders: Set<String> = []) {
        self.maxRedirects = maxRedirects
        self.sensitiveHeaders = Set(sensitiveHeaders.map { $0.lowercased() })
    }

    /// Up to five redirects.
    public static let follow = HTTPRedirectPolicy(maxRedirects: 5)
    /// No redirect is followed.
    public static let none = HTTPRedirectPolicy(maxRedirects: 0)
}
