public import NIOCore

/// Parses RESP2 replies out of a buffer, one at a time, with bounds on what a reply may hold.
///
/// `parse` either consumes one whole reply or nothing: an incomplete reply leaves the buffer as it
/// was, to be parsed again when more bytes arrive. Bounds protect the daemon from a broken or
/// hostile server: a bulk string larger than `maxBulkBytes`, an array longer than
/// `maxArrayCount`, nesting deeper than `maxDepth` or a line longer than `maxLineBytes` is an
/// error, detected from the header alone (nothing of that size is ever buffered for it).
public struct RESPParser: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxBulkBytes: Int
        public var maxArrayCount: Int
        public var maxDepth: Int
        public var maxLineBytes: Int

        public init(maxBulkBytes: Int = 8 << 20, maxArrayCount: Int = 1 << 20, maxDepth: Int = 16, maxLineBytes: Int = 64 << 10) {
            self.maxBulkBytes = maxBulkBytes
            self.maxArrayCount = maxArrayCount
            self.maxDepth = maxDepth
            self.maxLineBytes = maxLineBytes
        }
    }

    public let limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// One reply, or nil when the buffer does not hold a whole one yet.
    public func parse(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        var index = buffer.readerIndex
        guard let value = try parseValue(buffer, at: &index, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: index)
        return value
    }

    private func parseValue(_ buffer: ByteBuffer, at index: inout Int, depth: Int) throws(RESPProtocolError) -> RESPValue? {
        guard depth <= limits.maxDepth else { throw .tooDeep(limits.maxDepth) }
        guard let type = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
        var cursor = index + 1
        guard let line = try readLine(buffer, at: &cursor) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            index = cursor
            return .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            index = cursor
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            guard let value = Self.integer(line) else { throw .invalidInteger }
            index = cursor
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Self.integer(line), length >= -1 else { throw .invalidLength }
            if length == -1 {
                index = cursor
                return .null
            }
            guard length <= limits.maxBulkBytes else { throw .bulkTooLarge(length: length, limit: limits.maxBulkBytes) }
            let count = Int(length)
            guard buffer.writerIndex - cursor >= count + 2 else { return nil }
            guard buffer.getInteger(at: cursor + count, as: UInt8.self) == 0x0D,
                buffer.getInteger(at: cursor + count + 1, as: UInt8.self) == 0x0A
            else { throw .missingTerminator }
            let bytes = buffer.getBytes(at: cursor, length: count) ?? []
            index = cursor + count + 2
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let length = Self.integer(line), length >= -1 else { throw .invalidLength }
            if length == -1 {
                index = cursor
                return .null
            }
            guard length <= limits.maxArrayCount else { throw .arrayTooLong(count: length, limit: limits.maxArrayCount) }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(length), 1024))
            for _ in 0..<length {
                guard let element = try parseValue(buffer, at: &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            index = cursor
            return .array(elements)
        default:
            throw .unknownType(type)
        }
    }

    /// The bytes up to CRLF, moving `cursor` past it; nil when no CRLF has arrived yet.
    private func readLine(_ buffer: ByteBuffer, at cursor: inout Int) throws(RESPProtocolError) -> [UInt8]? {
        let available = buffer.writerIndex - cursor
        let view = buffer.viewBytes(at: cursor, length: min(available, limits.maxLineBytes + 2)) ?? ByteBufferView()
        guard let cr = view.firstIndex(of: 0x0D) else {
            if available >= limits.maxLineBytes + 2 { throw .lineTooLong(limits.maxLineBytes) }
            return nil
        }
        let offset = cr - view.startIndex
        guard cursor + offset + 1 < buffer.writerIndex else { return nil }
        guard buffer.getInteger(at: cursor + offset + 1, as: UInt8.self) == 0x0A else { throw .missingTerminator }
        let line = buffer.getBytes(at: cursor, length: offset) ?? []
        cursor += offset + 2
        return line
    }

    static func integer(_ bytes: [UInt8]) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        return Int64(String(decoding: bytes, as: UTF8.self))
    }
}

/// The server sent something that is not RESP, or more than the parser's bounds allow. The
/// connection is closed: nothing after it can be trusted to line up with the commands sent.
public enum RESPProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownType(UInt8)
    case invalidInteger
    case invalidLength
    case missingTerminator
    case bulkTooLarge(length: Int64, limit: Int)
    case arrayTooLong(count: Int64, limit: Int)
    case tooDeep(Int)
    case lineTooLong(Int)

    public var description: String {
        switch self {
        case .unknownType(let byte): "not RESP: unknown type byte 0x\(String(byte, radix: 16))"
        case .invalidInteger: "not RESP: an integer reply is not a number"
        case .invalidLength: "not RESP: a length is not a number of at least -1"
        case .missingTerminator: "not RESP: a line does not end with CRLF"
        case .bulkTooLarge(let length, let limit): "a bulk reply of \(length) bytes is over the limit of \(limit)"
        case .arrayTooLong(let count, let limit): "an array reply of \(count) elements is over the limit of \(limit)"
        case .tooDeep(let limit): "a reply nests deeper than \(limit) levels"
        case .lineTooLong(let limit): "a reply line is longer than \(limit) bytes"
        }
    }
}
