import ToolformerProtocol

/// Checks tool arguments against the subset of JSON Schema tool definitions use: `type`,
/// `properties`, `required`, `minimum`/`maximum`, `enum`, `items`. A failure names the field.
enum SchemaCheck {
    /// `path` is built only when a check fails: a batch validates thousands of calls, and building
    /// every member's path cost more than checking it.
    static func validate(
        _ arguments: JSONObject, against schema: JSONValue, path: @autoclosure () -> String = "arguments"
    ) throws(ToolformerError) {
        try check(.object(arguments), schema, path: path)
    }

    private static func check(_ value: JSONValue, _ schema: JSONValue, path makePath: () -> String) throws(ToolformerError) {
        guard case .object(let rules) = schema else { return }
        var path: String { makePath() }
        if let type = rules["type"]?.stringValue, !matches(value, type: type) {
            throw .invalidParams("\(path) must be \(article(type)) \(type), not \(value.typeName)", field: path)
        }
        if let allowed = rules["enum"]?.arrayValue, !allowed.contains(value) {
            throw .invalidParams("\(path) must be one of \(JSONValue.array(allowed))", field: path)
        }
        if let number = value.numberValue {
            if let minimum = rules["minimum"]?.numberValue, number < minimum {
                throw .invalidParams("\(path) must be at least \(rules["minimum"]!)", field: path)
            }
            if let maximum = rules["maximum"]?.numberValue, number > maximum {
                throw .invalidParams("\(path) must be at most \(rules["maximum"]!)", field: path)
            }
        }
        if case .object(let object) = value {
            for name in rules["required"]?.arrayValue ?? [] {
                if let key = name.stringValue, object[key] == nil {
                    throw .invalidParams("\(path).\(key) is required", field: "\(path).\(key)")
                }
            }
            if case .object(let properties)? = rules["properties"] {
                for (key, propertySchema) in properties.pairs {
                    if let member = object[key] { try check(member, propertySchema, path: { "\(makePath()).\(key)" }) }
                }
            }
        }
        if case .array(let elements) = value, let itemSchema = rules["items"] {
            for (index, element) in elements.enumerated() { try check(element, itemSchema, path: { "\(makePath())[\(index)]" }) }
        }
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
            ("integer", .int), ("number", .int), ("number", .double):
            true
        case ("integer", .double(let d)): d.rounded() == d
        default: false
        }
    }

    private static func article(_ type: String) -> String {
        ["a", "e", "i", "o", "u"].contains(type.prefix(1)) ? "an" : "a"
    }
}
