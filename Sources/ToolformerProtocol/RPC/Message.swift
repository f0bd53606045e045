/// A message a client sent, after its envelope was checked.
public enum IncomingMessage: Sendable, Equatable {
    /// `params` is always an object (an absent `params` reads as `{}`).
    case request(id: RequestID, method: String, params: JSONObject)
    case notification(method: String, params: JSONObject)
    /// A JSON-RPC response sent to the daemon. The daemon sends no requests, so it is dropped.
    case response(id: RequestID?)
}

/// An envelope that breaks JSON-RPC's rules: answer `error` to `id` (null when unknown).
public struct EnvelopeError: Error, Sendable, Equatable {
    public var id: RequestID?
    public var error: ToolformerError
    /// False for broken notifications: JSON-RPC never answers those.
    public var answerable: Bool
}

extension IncomingMessage {
    /// Checks a parsed line against JSON-RPC 2.0 as the protocol document narrows it.
    public static func decode(_ value: JSONValue) -> Result<IncomingMessage, EnvelopeError> {
        guard case .object(let object) = value else {
            if case .array = value {
                return .failure(EnvelopeError(
                    id: nil, error: .invalidRequest("JSON-RPC batches (arrays) are not supported: use tools/batch"),
                    answerable: true))
            }
            return .failure(EnvelopeError(
                id: nil, error: .invalidRequest("a message must be a JSON object, not \(value.typeName)"), answerable: true))
        }

        var id: RequestID?
        let hasID: Bool
        if let rawID = object["id"] {
            hasID = true
            guard let valid = RequestID(rawID) else {
                return .failure(EnvelopeError(
                    id: nil, error: .invalidRequest("id must be a string or an integer, not \(rawID.typeName)"),
                    answerable: true))
            }
            id = valid
        } else {
            hasID = false
        }

        if let version = object["jsonrpc"], version != "2.0" {
            return .failure(EnvelopeError(
                id: id, error: .invalidRequest("jsonrpc must be \"2.0\""), answerable: hasID))
        }

        guard let rawMethod = object["method"] else {
            if object["result"] != nil || object["error"] != nil { return .success(.response(id: id)) }
            return .failure(EnvelopeError(id: id, error: .invalidRequest("method is missing"), answerable: true))
        }
        guard case .string(let method) = rawMethod, !method.isEmpty else {
            return .failure(EnvelopeError(id: id, error: .invalidRequest("method must be a non-empty string"), answerable: hasID))
        }

        let params: JSONObject
        switch object["params"] {
        case nil, .null?: params = [:]
        case .object(let p)?: params = p
        case let other?:
            return .failure(EnvelopeError(
                id: id, error: .invalidParams("params must be an object, not \(other.typeName)", field: "params"),
                answerable: hasID))
        }

        if let id { return .success(.request(id: id, method: method, params: params)) }
        return .success(.notification(method: method, params: params))
    }
}

/// One JSON value already written (``JSONWriter``'s bytes, or bytes spliced to be exactly those),
/// to go into a message as it is.
public struct EncodedJSON: Sendable {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

/// Encodes what the daemon writes: one JSON text and its newline per message.
public enum MessageEncoder {
    public static func result(id: RequestID, _ result: JSONValue) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 64)
        writer.appendRaw("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.write(id.json)
        writer.appendRaw(",\"result\":")
        writer.write(result)
        writer.appendRaw("}\n")
        return writer.bytes
    }

    public static func result(id: RequestID, encoded result: EncodedJSON) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: result.bytes.count + 48)
        writer.appendRaw("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.write(id.json)
        writer.appendRaw(",\"result\":")
        writer.appendRaw(bytes: result.bytes)
        writer.appendRaw("}\n")
        return writer.bytes
    }

    public static func error(id: RequestID?, _ error: ToolformerError) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 160)
        writer.appendRaw("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.write(id?.json ?? .null)
        writer.appendRaw(",\"error\":")
        writer.write(error.errorObject)
        writer.appendRaw("}\n")
        return writer.bytes
    }

    public static func notification(method: String, params: JSONObject) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 128)
        writer.appendRaw("{\"jsonrpc\":\"2.0\",\"method\":")
        writer.writeString(method)
        writer.appendRaw(",\"params\":")
        writer.write(params)
        writer.appendRaw("}\n")
        return writer.bytes
    }

    /// A request, as a client writes it.
    public static func request(id: RequestID, method: String, params: JSONObject) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 128)
        writer.appendRaw("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.write(id.json)
        writer.appendRaw(",\"method\":")
        writer.writeString(method)
        writer.appendRaw(",\"params\":")
        writer.write(params)
        writer.appendRaw("}\n")
        return writer.bytes
    }
}
