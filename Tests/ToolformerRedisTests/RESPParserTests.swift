import NIOCore
import Testing
import ToolformerCore
@testable import ToolformerRedis

@Suite("RESP parser")
struct RESPParserTests {
    func parseAll(_ text: String, limits: RESPParser.Limits = .init()) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try RESPParser(limits: limits).parse(&buffer) { values.append(value) }
        #expect(buffer.readableBytes == 0, "left over: \(buffer.readableBytes) bytes")
        return values
    }

    @Test func everyType() throws {
        let values = try parseAll("+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n$3\r\nabc\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n")
        #expect(values == [
            .simpleString("OK"), .error("ERR wrong"), .integer(42), .integer(-7), .bulkString(Array("abc".utf8)),
            .bulkString([]), .null, .null, .array([]),
        ])
        #expect(values[1].errorKind == "ERR")
    }

    @Test func nestedArraysWithNullsAndBinary() throws {
        let values = try parseAll("*3\r\n*2\r\n:1\r\n$-1\r\n$4\r\na\r\nb\r\n*1\r\n*1\r\n+deep\r\n")
        #expect(values == [
            .array([.array([.integer(1), .null]), .bulkString(Array("a\r\nb".utf8)), .array([.array([.simpleString("deep")])])]),
        ])
    }

    /// Fed a byte at a time, the parser returns nothing until a reply is whole, consumes nothing
    /// before that, and gives the same replies as from one buffer.
    @Test func partialReads() throws {
        let text = "*2\r\n$5\r\nhello\r\n:12345\r\n+PONG\r\n$10\r\n0123456789\r\n"
        let whole = try parseAll(text)
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        let parser = RESPParser()
        for byte in text.utf8 {
            buffer.writeInteger(byte)
            let before = buffer.readerIndex
            if let value = try parser.parse(&buffer) {
                values.append(value)
            } else {
                #expect(buffer.readerIndex == before)
            }
        }
        #expect(values == whole)
        #expect(values.count == 3)
    }

    @Test func hugeBulkRefusedFromItsHeader() throws {
        var buffer = ByteBuffer(string: "$1048577\r\n")
        #expect(throws: RESPProtocolError.bulkTooLarge(length: 1_048_577, limit: 1 << 20)) {
            try RESPParser(limits: .init(maxBulkBytes: 1 << 20)).parse(&buffer)
        }
        // At the limit, it waits for the bytes.
        var exact = ByteBuffer(string: "$1048576\r\nabc")
        #expect(try RESPParser(limits: .init(maxBulkBytes: 1 << 20)).parse(&exact) == nil)
    }

    @Test func otherBounds() throws {
        var long = ByteBuffer(string: "*1000001\r\n")
        #expect(throws: RESPProtocolError.arrayTooLong(count: 1_000_001, limit: 1000)) {
            try RESPParser(limits: .init(maxArrayCount: 1000)).parse(&long)
        }
        var deep = ByteBuffer(string: String(repeating: "*1\r\n", count: 20) + ":1\r\n")
        #expect(throws: RESPProtocolError.tooDeep(16)) { try RESPParser().parse(&deep) }
        var line = ByteBuffer(string: "+" + String(repeating: "x", count: 200))
        #expect(throws: RESPProtocolError.lineTooLong(100)) { try RESPParser(limits: .init(maxLineBytes: 100)).parse(&line) }
    }

    @Test func malformed() throws {
        for (text, error) in [
            ("?x\r\n", RESPProtocolError.unknownType(UInt8(ascii: "?"))), (":12a\r\n", .invalidInteger),
            ("$-2\r\n", .invalidLength), ("$3\r\nabcXY", .missingTerminator), ("+OK\rX", .missingTerminator),
            ("*x\r\n", .invalidLength),
        ] {
            var buffer = ByteBuffer(string: text)
            #expect(throws: error, "\(text)") { try RESPParser().parse(&buffer) }
        }
    }

    @Test func encoderWritesArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(RedisCommand("SET", ["k", RedisArgument(bytes: [0, 13, 10]), "PX", 100]), into: &buffer)
        #expect(buffer.readString(length: buffer.readableBytes) == "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\0\r\n\r\n$2\r\nPX\r\n$3\r\n100\r\n")
        #expect(RedisCommand("AUTH", ["user", "secret"]).description == "AUTH")
    }
}

@Suite("Redis keys and values")
struct RedisKeyTests {
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex("".utf8) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func keysAreBoundedWhateverTheArguments() {
        let keys = RedisKeys(prefix: "tf:")
        let big = CacheKey.tool("echo", fingerprint: "f", arguments: ["text": .string(String(repeating: "x", count: 100_000))])
        let name = keys.cache(big)
        #expect(name.hasPrefix("tf:cache:tool:echo:"))
        #expect(name.utf8.count == "tf:cache:tool:echo:".utf8.count + 64)
        #expect(keys.cachePattern(namespace: "tool:echo") == "tf:cache:tool:echo:*")
        #expect(RedisKeys(prefix: "a*b[").cachePattern(namespace: nil) == "a\\*b\\[cache:*")
    }

    @Test func valueRoundTripAndRefusals() {
        let value = StoredValue(bytes: [1, 2, 3], compressed: true, size: 1000, expiresAtUnixMs: 1_700_000_000_000)
        #expect(RedisCacheStore.decode(RedisCacheStore.encode(value)) == value)
        let plain = StoredValue(bytes: Array("{}".utf8), compressed: false, size: 2, expiresAtUnixMs: 5)
        #expect(RedisCacheStore.decode(RedisCacheStore.encode(plain)) == plain)
        var wrongSize = RedisCacheStore.encode(plain)
        wrongSize[11] = 3
        #expect(RedisCacheStore.decode(wrongSize) == nil)
        #expect(RedisCacheStore.decode(Array("garbage that is long enough".utf8)) == nil)
        var huge = RedisCacheStore.encode(value)
        huge[4] = 0xFF
        #expect(RedisCacheStore.decode(huge) == nil)
    }
}
