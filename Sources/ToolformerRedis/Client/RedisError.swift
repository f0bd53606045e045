/// Why a command got no usable reply. Messages name the command and the endpoint, never its
/// arguments or a password.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case connectFailed(String)
        case connectTimeout(Int)
        case commandTimeout(command: String, ms: Int)
        case connectionClosed
        case protocolError(String)
        case authentication(String)
        case badDatabase(String)
        case server(String)
        case closed
    }

    private let code: Code

    private init(_ code: Code) { self.code = code }

    /// TCP or the unix socket could not be opened (refused, no route, no such file).
    public static func connectFailed(_ reason: String) -> RedisError { .init(.connectFailed(reason)) }
    public static func connectTimeout(ms: Int) -> RedisError { .init(.connectTimeout(ms)) }
    /// No reply within `command_timeout_ms`; the connection is closed with it.
    public static func commandTimeout(_ command: String, ms: Int) -> RedisError { .init(.commandTimeout(command: command, ms: ms)) }
    /// The connection closed before the reply came.
    public static let connectionClosed = RedisError(.connectionClosed)
    /// The server sent what is not RESP, or more than the bounds allow.
    public static func protocolError(_ reason: String) -> RedisError { .init(.protocolError(reason)) }
    /// AUTH was refused, or the server wants a password it was not given.
    public static func authentication(_ reason: String) -> RedisError { .init(.authentication(reason)) }
    /// SELECT was refused: the database does not exist.
    public static func badDatabase(_ reason: String) -> RedisError { .init(.badDatabase(reason)) }
    /// An error reply (`-ERR ...`) to a command.
    public static func server(_ message: String) -> RedisError { .init(.server(message)) }
    /// The client was shut down.
    public static let closed = RedisError(.closed)

    /// The configuration is wrong (password, database): retrying will not help, and a daemon
    /// starting with it should refuse to.
    public var isConfiguration: Bool {
        switch code {
        case .authentication, .badDatabase: true
        default: false
        }
    }

    /// SELECT was refused: the URL's database is at fault, not the password.
    public var isDatabase: Bool {
        if case .badDatabase = code { return true }
        return false
    }

    /// Redis answered, with an error: the server is reachable.
    public var isServerReply: Bool {
        if case .server = code { return true }
        return false
    }

    /// The error reply's text, for `NOSCRIPT` and the like.
    public var serverMessage: String? {
        if case .server(let message) = code { return message }
        return nil
    }

    public var description: String {
        switch code {
        case .connectFailed(let reason): "cannot connect to Redis: \(reason)"
        case .connectTimeout(let ms): "cannot connect to Redis within connect_timeout_ms (\(ms) ms)"
        case .commandTimeout(let command, let ms): "Redis did not answer \(command) within command_timeout_ms (\(ms) ms)"
        case .connectionClosed: "the connection to Redis closed"
        case .protocolError(let reason): "Redis sent a bad reply: \(reason)"
        case .authentication(let reason): reason
        case .badDatabase(let reason): reason
        case .server(let message): "Redis answered with an error: \(message)"
        case .closed: "the Redis client is shut down"
        }
    }
}
