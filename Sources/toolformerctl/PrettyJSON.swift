import ToolformerProtocol

/// Indented JSON for people (the wire format is compact, see `JSONWriter`).
enum PrettyJSON {
    static func string(_ value: JSONValue, indent: String = "  ") -> String {
        var out = ""
        write(value, into: &out, level: 0, indent: indent)
        return out
    }

    private static func write(_ value: JSONValue, into out: inout String, level: Int, indent: String) {
        let inner = String(repeating: indent, count: level + 1)
        let outer = String(repeating: indent, count: level)
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += inner
                write(item, into: &out, level: level + 1, indent: indent)
                out += index < items.count - 1 ? ",\n" : "\n"
            }
            out += outer + "]"
        case .object(let object) where !object.isEmpty:
            out += "{\n"
            for (index, pair) in object.enumerated() {
                out += inner + JSONValue.string(pair.key).description + ": "
                write(pair.value, into: &out, level: level + 1, indent: indent)
                out += index < object.count - 1 ? ",\n" : "\n"
            }
            out += outer + "}"
        default:
            out += value.description
        }
    }
}
