import Testing
import ToolformerProtocol

@Suite struct JSONCodecTests {
    let parser = JSONParser()

    @Test(arguments: [
        ("null", JSONValue.null), ("true", .bool(true)), ("false", .bool(false)), ("0", .int(0)), ("-1", .int(-1)),
        ("9223372036854775807", .int(Int64.max)), ("-9223372036854775808", .int(Int64.min)),
        ("0.1", .double(0.1)), ("1e3", .double(1000)), ("-2.5E-3", .double(-0.0025)),
        (#""a\"b\\c\n\t\u00e9\ud83d\ude00""#, .string("a\"b\\c\n\té😀")), ("[]", .array([])), ("{}", .object([:])),
        (#" {"a":[1,{"b":null}],"c":"d"} "#, ["a": [1, ["b": nil] as JSONValue], "c": "d"] as JSONValue),
    ])
    func parsesValidJSON(text: String, expected: JSONValue) throws {
        #expect(try parser.parse(text) == expected)
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":}", "01", "1.", "NaN", "Infinity", "-Infinity", "1e400", "tru", "{\"a\":1}}",
        "\"a\u{01}b\"", "\"tab\there\"", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "123456789012345678901234567890", "[1] [2]", "{'a':1}",
    ])
    func refusesInvalidJSON(text: String) {
        #expect(throws: JSONParseError.self) { try parser.parse(text) }
    }

    @Test(arguments: [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xFF], [0xF8, 0x88, 0x80, 0x80, 0x80]] as [[UInt8]])
    func refusesInvalidUTF8InStrings(bytes: [UInt8]) {
        #expect(throws: JSONParseError.self) { try parser.parse([0x22] + bytes + [0x22]) }
        #expect(throws: JSONParseError.self) { try parser.parse(Array("{\"".utf8) + bytes + Array("\":1}".utf8)) }
    }

    @Test func refusesNULBytes() {
        #expect(throws: JSONParseError.self) { try parser.parse([0x7B, 0x00, 0x7D]) }
        #expect(throws: JSONParseError.self) { try parser.parse([0x22, 0x61, 0x00, 0x22]) }
    }

    @Test func boundsNesting() throws {
        let shallow = JSONParser(maxDepth: 8)
        #expect(try shallow.parse("[[[[[[[1]]]]]]]") != .null)
        #expect(throws: JSONParseError.self) { try shallow.parse("[[[[[[[[[1]]]]]]]]]") }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try parser.parse(deep) }
        // The parser is reusable after an error.
        #expect(try parser.parse("[1]") == [1])
    }

    @Test func duplicateKeysKeepTheLast() throws {
        #expect(try parser.parse(#"{"a":1,"a":2}"#) == ["a": 2])
    }

    @Test func writesCompactJSONThatParsesBack() throws {
        let value: JSONValue = [
            "s": "quote\" backslash\\ newline\n tab\t bell\u{07} é 😀", "i": .int(Int64.min), "j": .int(Int64.max),
            "d": 0.1, "e": 1e300, "neg": -2.5, "b": true, "n": nil, "a": [1, "two", [3.5]], "o": ["k": [:]],
        ]
        let text = JSONWriter.string(value)
        #expect(!text.contains("\n"))
        #expect(text.contains(#""d":0.1"#))
        #expect(text.contains(#"\u0007"#))
        #expect(try parser.parse(text) == value)
    }

    @Test func keepsObjectOrderWhenWriting() {
        #expect(JSONWriter.string(["z": 1, "a": 2, "m": 3]) == #"{"z":1,"a":2,"m":3}"#)
    }

    @Test func objectsCompareWithoutOrder() {
        let left: JSONValue = ["a": 1, "b": 2]
        let right: JSONValue = ["b": 2, "a": 1]
        #expect(left == right)
        #expect(left.hashValue == right.hashValue)
        #expect(left != ["a": 1, "b": 3])
    }

    @Test func writesNonFiniteDoublesAsNull() {
        #expect(JSONWriter.string(.double(.nan)) == "null")
        #expect(JSONWriter.string(.double(.infinity)) == "null")
    }

    @Test(arguments: [Int64.min, -1, 0, 7, 10, 123_456_789, Int64.max])
    func writesIntegersExactly(value: Int64) {
        #expect(JSONWriter.string(.int(value)) == String(value))
    }

    @Test(arguments: [
        nil, true, false, .int(Int64.min), -10, -9, -1, 0, 9, 10, 99, 100, .int(Int64.max), 0.1, -2.5, 1e300, .double(.nan),
        "", "plain", "quote\" backslash\\ newline\n cr\r tab\t bs\u{08} ff\u{0C} bell\u{07} nul\u{00} é 😀",
        [], [1], [1, "two", [3.5, nil]], [:], ["k": [:]], ["a\"b": ["x": [true, false]], "": 0],
    ] as [JSONValue])
    func countsTheBytesItWouldWrite(value: JSONValue) {
        #expect(JSONWriter.byteCount(value) == JSONWriter.bytes(value).count)
    }

    @Test func literalsKeepTheLastOfADuplicateKeyAndTheirOrder() {
        let object: JSONObject = ["b": 1, "a": 2, "b": 3]
        #expect(object.keys == ["b", "a"])
        #expect(object["b"] == 3)
        #expect(JSONObject(uniquePairs: [("z", 1), ("y", 2)]).keys == ["z", "y"])
    }
}

@Suite struct EnvelopeTests {
    let parser = JSONParser()

    func decode(_ text: String) throws -> Result<IncomingMessage, EnvelopeError> {
        IncomingMessage.decode(try parser.parse(text))
    }

    @Test func requestsAndNotifications() throws {
        #expect(try decode(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#) == .success(.request(id: 1, method: "ping", params: [:])))
        #expect(try decode(#"{"id":"x","method":"m","params":{"a":1},"extra":true}"#)
            == .success(.request(id: "x", method: "m", params: ["a": 1])))
        #expect(try decode(#"{"method":"n","params":null}"#) == .success(.notification(method: "n", params: [:])))
        #expect(try decode(#"{"id":3,"result":{}}"#) == .success(.response(id: 3)))
    }

    @Test(arguments: [
        (#"[1]"#, -32600 as Int64, "invalid_request", nil as RequestID?, true),
        (#"5"#, -32600, "invalid_request", nil, true),
        (#"{"id":1.5,"method":"m"}"#, -32600, "invalid_request", nil, true),
        (#"{"id":null,"method":"m"}"#, -32600, "invalid_request", nil, true),
        (#"{"id":1}"#, -32600, "invalid_request", 1, true),
        (#"{"id":1,"method":""}"#, -32600, "invalid_request", 1, true),
        (#"{"jsonrpc":"1.0","id":1,"method":"m"}"#, -32600, "invalid_request", 1, true),
        (#"{"id":1,"method":"m","params":[1]}"#, -32602, "invalid_params", 1, true),
        (#"{"method":"m","params":"x"}"#, -32602, "invalid_params", nil, false),
        (#"{"method":5}"#, -32600, "invalid_request", nil, false),
    ])
    func refusals(text: String, code: Int64, name: String, id: RequestID?, answerable: Bool) throws {
        guard case .failure(let failure) = try decode(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(failure.error.rpcCode == code)
        #expect(failure.error.name == name)
        #expect(failure.id == id)
        #expect(failure.answerable == answerable)
    }

    @Test func errorsCarryTheirWireShape() throws {
        let error = ToolformerError.overloaded("busy", retryAfterMs: 250)
        let line = MessageEncoder.error(id: 9, error)
        #expect(line.last == 10)
        let parsed = try parser.parse(Array(line.dropLast()))
        #expect(parsed["error"]?["code"] == -32002)
        #expect(parsed["error"]?["data"] == ["name": "overloaded", "retryable": true, "retryAfterMs": 250])
        // A client rebuilds the same error from the wire.
        let rebuilt = ToolformerError(code: -32002, message: "busy", data: parsed["error"]?["data"])
        #expect(rebuilt.isSameKind(as: error))
        #expect(rebuilt.details["retryAfterMs"] == 250)
        #expect(ToolformerError(code: -32600, message: "", data: ["name": "duplicate_id"]).name == "duplicate_id")
        #expect(ToolformerError(code: -32099, message: "", data: ["name": "future_thing", "retryable": true]).retryable)
    }

    @Test func everyErrorInTheTable() {
        let table: [(ToolformerError, Int64, String, Bool)] = [
            (.parseError("x"), -32700, "parse_error", false), (.invalidRequest("x"), -32600, "invalid_request", false),
            (.lineTooLong(limit: 1), -32600, "line_too_long", false), (.duplicateID(1), -32600, "duplicate_id", false),
            (.methodNotFound("m"), -32601, "method_not_found", false), (.invalidParams("x"), -32602, "invalid_params", false),
            (.unknownTool("t"), -32602, "unknown_tool", false), (.internalError("x"), -32603, "internal_error", true),
            (.cancelled(), -32800, "cancelled", false), (.timeout(), -32001, "timeout", true),
            (.overloaded("x", retryAfterMs: 1), -32002, "overloaded", true), (.forbidden("x"), -32003, "forbidden", false),
            (.rateLimited(bucket: "b", retryAfterMs: 1), -32004, "rate_limited", true),
            (.providerError("x", provider: "p", status: 503), -32005, "provider_error", true),
            (.shuttingDown(), -32006, "shutting_down", true),
        ]
        for (error, code, name, retryable) in table {
            #expect(error.rpcCode == code)
            #expect(error.name == name)
            #expect(error.retryable == retryable)
        }
    }
}
