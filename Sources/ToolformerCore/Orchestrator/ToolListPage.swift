public import ToolformerProtocol

/// `tools/list` pagination as MCP defines it: an opaque `cursor` in, a `nextCursor` out while
/// more tools follow.
///
/// The cursor names the last tool of the page it ends (tools are listed in name order), not an
/// offset, so a reload between two pages neither repeats nor skips a tool that stayed. It is
/// `t1.` and the name's UTF-8 bytes in hex: opaque to clients, checked strictly here.
public enum ToolListPage {
    /// Tools per page. MCP hosts fetch every page at start-up; a hundred keeps a page's line small
    /// (a few tens of KiB with typical schemas) while a usual configuration fits on one.
    public static let defaultSize = 100

    /// One page of `entries` (already in name order) after `cursor`.
    public static func page(
        _ entries: [ToolRegistry.Entry], cursor: String?, size: Int = defaultSize
    ) throws(ToolformerError) -> JSONValue {
        var start = entries.startIndex
        if let cursor {
            let after = try name(in: cursor)
            start = entries.firstIndex { $0.tool.definition.name > after } ?? entries.endIndex
        }
        let end = min(start + max(size, 1), entries.endIndex)
        var result: JSONObject = ["tools": .array(entries[start..<end].map(\.tool.definition.listEntry))]
        if end < entries.endIndex {
            let last = entries[end - 1]
            result["nextCursor"] = .string(makeCursor(after: last.tool.definition.name))
        }
        return .object(result)
    }

    static let prefix = "t1."

    static func makeCursor(after name: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes = Array(prefix.utf8)
        for byte in name.utf8 {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The tool name a cursor carries, or -32602 for anything this daemon did not hand out.
    static func name(in cursor: String) throws(ToolformerError) -> String {
        let invalid = ToolformerError.invalidParams(
            "cursor is not one this daemon handed out; start again without a cursor", field: "cursor")
        let utf8 = Array(cursor.utf8)
        let prefixBytes = Array(prefix.utf8)
        guard utf8.count > prefixBytes.count, utf8.count <= prefixBytes.count + 2048,
            utf8.starts(with: prefixBytes), (utf8.count - prefixBytes.count) % 2 == 0
        else { throw invalid }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var name: [UInt8] = []
        var index = prefixBytes.count
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { throw invalid }
            name.append(high << 4 | low)
            index += 2
        }
        guard let decoded = String(validating: name, as: UTF8.self) else { throw invalid }
        return decoded
    }
}
