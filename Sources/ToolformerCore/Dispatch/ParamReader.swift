public import ToolformerProtocol

/// Typed access to a request's params; every failure is -32602 naming the field.
public struct ParamReader: Sendable {
    public let params: JSONObject

    public init(_ params: JSONObject) { self.params = params }

    public func requiredString(_ key: String, prefix: String = "") throws(ToolformerError) -> String {
        guard case .string(let value)? = params[key] else {
            throw .invalidParams("\(prefix)\(key) must be a string", field: prefix + key)
        }
        return value
    }

    public func optionalString(_ key: String, prefix: String = "") throws(ToolformerError) -> String? {
        switch params[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .invalidParams("\(prefix)\(key) must be a string", field: prefix + key)
        }
    }

    public func optionalObject(_ key: String, prefix: String = "") throws(ToolformerError) -> JSONObject? {
        switch params[key] {
        case nil, .null?: return nil
        case .object(let value)?: return value
        case let other?: throw .invalidParams("\(prefix)\(key) must be an object, not \(other.typeName)", field: prefix + key)
        }
    }

    public func requiredArray(_ key: String, prefix: String = "") throws(ToolformerError) -> [JSONValue] {
        guard case .array(let value)? = params[key] else {
            throw .invalidParams("\(prefix)\(key) must be an array", field: prefix + key)
        }
        return value
    }

    public func optionalPositiveInt(_ key: String, prefix: String = "") throws(ToolformerError) -> Int64? {
        switch params[key] {
        case nil, .null?: return nil
        case .int(let value)? where value > 0: return value
        default: throw .invalidParams("\(prefix)\(key) must be a positive integer", field: prefix + key)
        }
    }

    public func optionalBool(_ key: String, prefix: String = "") throws(ToolformerError) -> Bool? {
        switch params[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw .invalidParams("\(prefix)\(key) must be true or false", field: prefix + key)
        }
    }
}
