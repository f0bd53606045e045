/// A RESP2 reply: what Redis answers a command with.
public enum RESPValue: Sendable, Equatable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR ...`: the whole line, its first word being the error's kind (`ERR`, `NOSCRIPT`, `WRONGPASS`).
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3\r\nabc`
    case bulkString([UInt8])
    /// `*2\r\n...`
    case array([RESPValue])
    /// `$-1` or `*-1`: RESP2's two spellings of nil.
    case null

    /// A bulk or simple string as text; nil for anything else.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// An integer, or a string that holds one (Lua numbers sometimes arrive as strings).
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString, .simpleString: string.flatMap { Int64($0) }
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// The error's first word (`NOSCRIPT`, `WRONGPASS`), or nil when this is not an error.
    public var errorKind: Substring? {
        guard case .error(let text) = self else { return nil }
        return text.split(separator: " ", maxSplits: 1).first ?? ""
    }
}
