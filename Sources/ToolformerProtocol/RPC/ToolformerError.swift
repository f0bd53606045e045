/// A protocol-level error: what a JSON-RPC `error` object carries.
///
/// The wire code, `data.name` and whether a retry may help all come from one private code, so they
/// can never disagree with the table in the protocol document.
public struct ToolformerError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case parseError, invalidRequest, lineTooLong, duplicateID, methodNotFound, invalidParams, unknownTool
        case internalError, cancelled, timeout, overloaded, forbidden, rateLimited, providerError, shuttingDown
        /// A code this build does not know (a newer daemon, as seen by a client).
        case other(code: Int64, name: String, retryable: Bool)
    }

    private let code: Code
    public let message: String
    /// Fields of `data` besides `name` and `retryable` (`field`, `retryAfterMs`, `provider`, ...).
    public private(set) var details: JSONObject

    private init(_ code: Code, _ message: String, _ details: JSONObject = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public static func parseError(_ message: String) -> Self { Self(.parseError, message) }
    public static func invalidRequest(_ message: String) -> Self { Self(.invalidRequest, message) }
    public static func lineTooLong(limit: Int) -> Self {
        Self(.lineTooLong, "line longer than \(limit) bytes", ["limit": .int(Int64(limit))])
    }
    public static func duplicateID(_ id: RequestID) -> Self {
        Self(.duplicateID, "id \(id) is already in use by a request in flight on this connection")
    }
    public static func methodNotFound(_ method: String) -> Self {
        Self(.methodNotFound, "method not found: \(method)", ["method": .string(method)])
    }
    /// `field` is a dotted path into params (`arguments.city`), `""` for params as a whole.
    public static func invalidParams(_ message: String, field: String? = nil) -> Self {
        Self(.invalidParams, message, field.map { ["field": .string($0)] } ?? [:])
    }
    public static func unknownTool(_ name: String) -> Self {
        Self(.unknownTool, "unknown tool: \(name)", ["field": "name", "tool": .string(name)])
    }
    public static func internalError(_ message: String) -> Self { Self(.internalError, message) }
    public static func cancelled(_ message: String = "request cancelled") -> Self { Self(.cancelled, message) }
    public static func timeout(_ message: String = "the request's deadline passed") -> Self { Self(.timeout, message) }
    public static func overloaded(_ message: String, retryAfterMs: Int64) -> Self {
        Self(.overloaded, message, ["retryAfterMs": .int(retryAfterMs)])
    }
    public static func forbidden(_ message: String) -> Self { Self(.forbidden, message) }
    public static func rateLimited(bucket: String, retryAfterMs: Int64) -> Self {
        Self(.rateLimited, "rate limit '\(bucket)' would be exceeded", ["bucket": .string(bucket), "retryAfterMs": .int(retryAfterMs)])
    }
    public static func providerError(_ message: String, provider: String, status: Int?) -> Self {
        Self(.providerError, message, ["provider": .string(provider), "status": status.map { .int(Int64($0)) } ?? .null])
    }
    public static func shuttingDown(_ message: String = "the daemon is shutting down") -> Self { Self(.shuttingDown, message) }

    /// Rebuilds an error read from the wire (a client's view).
    public init(code: Int64, message: String, data: JSONValue?) {
        let name = data?["name"]?.stringValue ?? ""
        var details = data?.objectValue ?? [:]
        details["name"] = nil
        details["retryable"] = nil
        let known: [Code] = [
            .parseError, .invalidRequest, .lineTooLong, .duplicateID, .methodNotFound, .invalidParams, .unknownTool,
            .internalError, .cancelled, .timeout, .overloaded, .forbidden, .rateLimited, .providerError, .shuttingDown,
        ]
        // A peer that sent no data.name still gets the kind its code means (the first of that code).
        let match = known.first { Self.wire($0).code == code && Self.wire($0).name == name }
            ?? (name.isEmpty ? known.first { Self.wire($0).code == code } : nil)
        self.init(
            match ?? .other(code: code, name: name, retryable: data?["retryable"]?.boolValue ?? false),
            message, details)
    }

    public func with(_ key: String, _ value: JSONValue) -> Self {
        var copy = self
        copy.details[key] = value
        return copy
    }

    /// The JSON-RPC error code.
    public var rpcCode: Int64 { Self.wire(code).code }
    /// `data.name`: the stable, machine-readable name of the error.
    public var name: String { Self.wire(code).name }
    /// `data.retryable`: whether the same request may succeed later.
    public var retryable: Bool { Self.wire(code).retryable }

    public var description: String { "\(message) (\(rpcCode) \(name))" }

    /// The `error` member of a response.
    public var errorObject: JSONObject {
        var data: JSONObject = ["name": .string(name), "retryable": .bool(retryable)]
        for (key, value) in details.pairs { data[key] = value }
        return ["code": .int(rpcCode), "message": .string(message), "data": .object(data)]
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.details == rhs.details
    }

    /// Whether two errors are of the same kind, whatever their messages.
    public func isSameKind(as other: Self) -> Bool { rpcCode == other.rpcCode && name == other.name }

    private static func wire(_ code: Code) -> (code: Int64, name: String, retryable: Bool) {
        switch code {
        case .parseError: (-32700, "parse_error", false)
        case .invalidRequest: (-32600, "invalid_request", false)
        case .lineTooLong: (-32600, "line_too_long", false)
        case .duplicateID: (-32600, "duplicate_id", false)
        case .methodNotFound: (-32601, "method_not_found", false)
        case .invalidParams: (-32602, "invalid_params", false)
        case .unknownTool: (-32602, "unknown_tool", false)
        case .internalError: (-32603, "internal_error", true)
        case .cancelled: (-32800, "cancelled", false)
        case .timeout: (-32001, "timeout", true)
        case .overloaded: (-32002, "overloaded", true)
        case .forbidden: (-32003, "forbidden", false)
        case .rateLimited: (-32004, "rate_limited", true)
        case .providerError: (-32005, "provider_error", true)
        case .shuttingDown: (-32006, "shutting_down", true)
        case .other(let code, let name, let retryable): (code, name, retryable)
        }
    }
}
