import AsyncHTTPClient
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from below HTTP (connect, TLS, the pool, the client's own checks), reduced to what a
/// caller acts on: a message that is safe to show and whether trying again later may help.
///
/// Messages are built from known error types only and never quote request headers: the client's
/// `invalidHeaderFieldValues` error carries header values in its description, so client errors
/// are shown by their `shortDescription`, and unknown errors by their type's name.
public struct HTTPTransportFailure: Sendable, CustomStringConvertible {
    public var message: String
    /// A refused, reset or timed-out connection, a failed DNS lookup, a pool or read timeout.
    public var isTransient: Bool

    public init(message: String, isTransient: Bool) {
        self.message = message
        self.isTransient = isTransient
    }

    public var description: String { message }

    public init(_ error: any Error) {
        switch error {
        case let error as HTTPClientError:
            self = Self.classify(error)
        case let error as NIOConnectionError:
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                self.init(message: "DNS lookup failed for \(error.host)", isTransient: true)
            } else if let first = error.connectionErrors.first {
                self.init(message: Self.classify(first.error).message, isTransient: true)
            } else {
                self.init(message: "could not connect", isTransient: true)
            }
        default:
            self = Self.classify(error)
        }
    }

    private static func classify(_ error: HTTPClientError) -> HTTPTransportFailure {
        switch error {
        case .connectTimeout: .init(message: "connect timed out", isTransient: true)
        case .remoteConnectionClosed: .init(message: "connection closed by the server", isTransient: true)
        case .readTimeout: .init(message: "read timed out", isTransient: true)
        case .writeTimeout: .init(message: "write timed out", isTransient: true)
        case .getConnectionFromPoolTimeout: .init(message: "no connection free in time", isTransient: true)
        case .tlsHandshakeTimeout: .init(message: "TLS handshake timed out", isTransient: true)
        case .deadlineExceeded: .init(message: "request timed out", isTransient: false)
        case .alreadyShutdown: .init(message: "the HTTP client is shut down", isTransient: false)
        case .cancelled: .init(message: "request cancelled", isTransient: false)
        case .invalidURL, .emptyHost, .emptyScheme: .init(message: "invalid URL", isTransient: false)
        default: .init(message: error.shortDescription, isTransient: false)
        }
    }

    private static func classify(_ error: any Error) -> HTTPTransportFailure {
        switch error {
        case let error as IOError:
            return .init(message: errnoMessage(error.errnoCode), isTransient: true)
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return .init(message: "connect timed out", isTransient: true)
            case .ioOnClosedChannel, .eof, .outputClosed, .inputClosed, .alreadyClosed:
                return .init(message: "connection closed", isTransient: true)
            default: return .init(message: "connection error", isTransient: true)
            }
        default:
            let type = String(reflecting: Swift.type(of: error))
            // TLS failures (a bad certificate, no shared cipher) do not heal by themselves.
            if type.hasPrefix("NIOSSL") { return .init(message: "TLS error (\(type))", isTransient: false) }
            return .init(message: "transport error (\(type))", isTransient: false)
        }
    }

    private static func errnoMessage(_ code: CInt) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ECONNRESET: "connection reset"
        case ECONNABORTED: "connection aborted"
        case EPIPE: "connection closed"
        case ETIMEDOUT: "connection timed out"
        case EHOSTUNREACH: "host unreachable"
        case ENETUNREACH: "network unreachable"
        case ENETDOWN: "network down"
        default: "I/O error (errno \(code))"
        }
    }
}
