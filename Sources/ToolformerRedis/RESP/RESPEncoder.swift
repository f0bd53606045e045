public import NIOCore

/// Writes commands the way every Redis accepts them: an array of bulk strings.
public enum RESPEncoder {
    public static func encode(_ command: RedisCommand, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        buffer.writeString(String(command.arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in command.arguments {
            buffer.writeInteger(UInt8(ascii: "$"))
            buffer.writeString(String(argument.count))
            buffer.writeStaticString("\r\n")
            buffer.writeBytes(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    public static func encodedSize(_ command: RedisCommand) -> Int {
        command.arguments.reduce(16) { $0 + $1.count + 16 }
    }
}

/// One command: its name and arguments, as bytes.
public struct RedisCommand: Sendable, Equatable, CustomStringConvertible {
    public var arguments: [[UInt8]]

    public init(_ name: String, _ arguments: [RedisArgument] = []) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.bytes)
    }

    /// The command's name, for logs and errors; never its arguments (they may be passwords or values).
    public var description: String { String(decoding: arguments.first ?? [], as: UTF8.self) }
}

/// Something a command takes: text, bytes or a number.
public struct RedisArgument: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public var bytes: [UInt8]

    public init(_ text: String) { bytes = Array(text.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ value: Int64) { bytes = Array(String(value).utf8) }
    public init(_ value: Int) { bytes = Array(String(value).utf8) }
    /// A double as Lua's `tonumber` reads it.
    public init(_ value: Double) { bytes = Array(String(value).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(integerLiteral value: Int) { self.init(value) }
}
