public import ToolformerProtocol

/// JSON written one way only: object keys sorted (by their UTF-8 bytes), no whitespace, numbers
/// normalised, so `{"a":1,"b":2}` and `{"b":2,"a":1.0}` are the same key.
public enum CanonicalJSON {
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 128)
        write(value, into: &writer)
        return writer.bytes
    }

    public static func string(_ value: JSONValue) -> String { String(decoding: bytes(value), as: UTF8.self) }

    private static func write(_ value: JSONValue, into writer: inout JSONWriter) {
        switch value {
        case .double(let d) where d.rounded() == d && abs(d) < 9.007_199_254_740_992e15:
            // 1.0 and 1 are one number; doubles that are whole and exact become integers.
            writer.writeInt(Int64(d))
        case .array(let elements):
            writer.appendRaw("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { writer.appendRaw(",") }
                write(element, into: &writer)
            }
            writer.appendRaw("]")
        case .object(let object):
            writer.appendRaw("{")
            let sorted = object.pairs.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (index, pair) in sorted.enumerated() {
                if index > 0 { writer.appendRaw(",") }
                writer.writeString(pair.key)
                writer.appendRaw(":")
                write(pair.value, into: &writer)
            }
            writer.appendRaw("}")
        default:
            writer.write(value)
        }
    }
}
