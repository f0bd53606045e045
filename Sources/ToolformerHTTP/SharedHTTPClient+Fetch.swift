public import AsyncHTTPClient
public import Logging
public import NIOCore
import NIOHTTP1

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension SharedHTTPClient {
    /// Runs `request`, follows redirects by `redirects`, and reads the body into memory.
    ///
    /// A body of a status below 400 longer than `maxBodyBytes` throws
    /// ``SharedHTTPClientError/bodyTooLarge(limit:)`` as soon as the cap is passed (a
    /// `Content-Length` above it before a byte is read); reading stops there and the connection is
    /// closed rather than drained. For 400 and above only the first `errorBodyBytes` are kept,
    /// since callers only quote the start of an error.
    ///
    /// When a redirect leaves the request's origin, `Authorization`, `Proxy-Authorization`,
    /// `Cookie`, `Origin` and the policy's `sensitiveHeaders` are removed. 303 (and 301/302 after a
    /// POST) continue as a GET without a body; 307 and 308 repeat the method and body, so a request
    /// that may be redirected needs a body that can be sent twice (`.bytes`).
    ///
    /// Errors: ``SharedHTTPClientError``, or whatever the client throws (see
    /// ``HTTPTransportFailure``). Cancellation aborts the request in flight; callers check
    /// `Task.isCancelled`, since the client may report it as another error.
    public func fetch(
        _ request: HTTPClientRequest, deadline: NIODeadline, maxBodyBytes: Int, errorBodyBytes: Int = 64 * 1024,
        redirects: HTTPRedirectPolicy = .follow, logger: Logger? = nil
    ) async throws -> HTTPResponseData {
        var current = request
        var redirectsFollowed = 0
        let originalOrigin = HTTPOrigin(current.url)
        while true {
            try Task.checkCancellation()
            let response = try await execute(current, deadline: deadline, logger: logger)
            if let location = Self.redirectLocation(response), redirects.maxRedirects > 0 {
                guard redirectsFollowed < redirects.maxRedirects else {
                    throw SharedHTTPClientError.tooManyRedirects(limit: redirects.maxRedirects)
                }
                guard let target = Self.resolve(location, against: current.url) else {
                    throw SharedHTTPClientError.unsupportedRedirect
                }
                // A short body is read so that the connection goes back to the pool.
                _ = try? await Self.read(response.body, upTo: 64 * 1024, declaredLength: nil)
                current = Self.redirected(
                    current, to: target, status: response.status,
                    leavesOrigin: originalOrigin == nil || HTTPOrigin(target) != originalOrigin, policy: redirects)
                redirectsFollowed += 1
                continue
            }

            let declared = response.headers.first(name: "content-length").flatMap { Int($0) }
            if response.status.code >= 400 {
                let (body, truncated) = try await Self.read(response.body, upTo: errorBodyBytes, declaredLength: nil)
                return HTTPResponseData(
                    status: response.status, headers: response.headers, body: body, bodyTruncated: truncated,
                    url: current.url)
            }
            // A HEAD response announces the length of a body it does not carry.
            if let declared, declared > maxBodyBytes, current.method != .HEAD {
                throw SharedHTTPClientError.bodyTooLarge(limit: maxBodyBytes)
            }
            let (body, truncated) = try await Self.read(response.body, upTo: maxBodyBytes, declaredLength: declared)
            if truncated { throw SharedHTTPClientError.bodyTooLarge(limit: maxBodyBytes) }
            return HTTPResponseData(status: response.status, headers: response.headers, body: body, url: current.url)
        }
    }

    /// Reads at most `limit` bytes; `true` when more followed. Returning early drops the body's
    /// iterator, which makes the client abort the rest of the response.
    private static func read(
        _ body: HTTPClientResponse.Body, upTo limit: Int, declaredLength: Int?
    ) async throws -> ([UInt8], Bool) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(0, min(declaredLength ?? 16 * 1024, limit)))
        for try await buffer in body {
            let room = limit - bytes.count
            if buffer.readableBytes > room {
                bytes.append(contentsOf: buffer.readableBytesView.prefix(room))
                return (bytes, true)
            }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return (bytes, false)
    }

    private static func redirectLocation(_ response: HTTPClientResponse) -> String? {
        switch response.status.code {
        case 301, 302, 303, 307, 308: response.headers.first(name: "location")
        default: nil
        }
    }

    /// `location` resolved against `base`, if the result is an http or https URL with a host.
    static func resolve(_ location: String, against base: String) -> String? {
        guard let baseURL = URL(string: base), let url = URL(string: location, relativeTo: baseURL)?.absoluteURL,
            let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return nil }
        return url.absoluteString
    }

    private static func redirected(
        _ request: HTTPClientRequest, to target: String, status: HTTPResponseStatus, leavesOrigin: Bool,
        policy: HTTPRedirectPolicy
    ) -> HTTPClientRequest {
        var next = HTTPClientRequest(url: target)
        next.method = request.method
        next.headers = request.headers
        next.body = request.body
        next.tlsConfiguration = request.tlsConfiguration
        let asGet =
            (status == .seeOther && request.method != .HEAD)
            || ((status == .movedPermanently || status == .found) && request.method == .POST)
        if asGet {
            next.method = .GET
            next.body = nil
            next.headers.remove(name: "content-length")
            next.headers.remove(name: "content-type")
        }
        if leavesOrigin {
            for name in ["authorization", "proxy-authorization", "cookie", "origin"] { next.headers.remove(name: name) }
            for name in policy.sensitiveHeaders { next.headers.remove(name: name) }
        }
        return next
    }
}

/// Scheme, host and port: what decides whether a redirect may carry credentials along.
struct HTTPOrigin: Equatable {
    var scheme: String
    var host: String
    var port: Int

    init?(_ string: String) {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased()
        else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = url.port ?? (scheme == "https" ? 443 : 80)
    }
}
