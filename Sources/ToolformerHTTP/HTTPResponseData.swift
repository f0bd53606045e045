public import NIOHTTP1

/// A response read to its end (or to a cap) by
/// ``SharedHTTPClient/fetch(_:deadline:maxBodyBytes:errorBodyBytes:redirects:logger:)``.
public struct HTTPResponseData: Sendable {
    /// The final response's status, after any redirects followed.
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Only for statuses of 400 and above: the body was longer than `errorBodyBytes` and `body`
    /// holds its beginning.
    public var bodyTruncated: Bool
    /// The URL that answered, which differs from the request's after a redirect.
    public var url: String

    public init(status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8], bodyTruncated: Bool = false, url: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
        self.url = url
    }
}
