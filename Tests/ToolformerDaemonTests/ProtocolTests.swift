import Synchronization
import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

/// Every rule of the protocol document, against the real daemon over its socket.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct ProtocolTests {
    @Test func pingAndEnvelope() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        // "jsonrpc" may be left out by clients; the daemon always writes it.
        let message = try exchange(#"{"id":1,"method":"ping"}"#, on: connection)
        #expect(message["jsonrpc"] == "2.0")
        #expect(message["id"] == 1)
        #expect(message["result"] == .object([:]))
        let stringID = try exchange(#"{"jsonrpc":"2.0","id":"abc","method":"ping","params":{},"extra":{"x":1}}"#, on: connection)
        #expect(stringID["id"] == "abc")
        #expect(stringID["result"] == .object([:]))
    }

    @Test func initializeNegotiatesTheProtocolVersion() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let known = try connection.call("initialize", ["protocolVersion": "2025-06-18", "clientInfo": ["name": "t", "version": "1"]])
        #expect(known["protocolVersion"] == "2025-06-18")
        #expect(known["serverInfo"]?["name"] == "toolformerd")
        #expect(known["serverInfo"]?["version"] == .string(ToolformerVersion.current))
        #expect(known["capabilities"]?["tools"]?["listChanged"] == true)
        let unknown = try connection.call("initialize", ["protocolVersion": "1999-01-01"])
        #expect(unknown["protocolVersion"] == "2025-11-25")
        // Requests before and without initialize are served; notifications/initialized is never answered.
        try connection.sendNotification("notifications/initialized")
        try expectAlive(connection)
    }

    @Test func parseErrorsKeepTheConnection() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        for line in [
            "{bad", "{\"id\":1,", "nul", "{\"id\":1,\"method\":\"ping\"} trailing", "NaN", "{\"id\":1,\"x\":NaN}",
            "{\"id\":1,\"x\":1e400}", "{\"id\":1,\"x\":\"a\u{01}b\"}", "{\"id\":18446744073709551616,\"method\":\"ping\"}",
            "{\"id\":9223372036854775808,\"method\":\"ping\"}", "{\"id\":-9223372036854775809,\"method\":\"ping\"}",
        ] {
            expectError(try exchange(line, on: connection), code: -32700, name: "parse_error")
        }
        // Invalid UTF-8: an overlong '/', a lone surrogate, a truncated sequence.
        for bytes: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82]] {
            try connection.send(Array(#"{"id":1,"method":"ping","params":{"s":""#.utf8) + bytes + Array(#""}}"#.utf8) + [10])
            expectError(try connection.readMessage(timeout: .seconds(10)), code: -32700, name: "parse_error")
        }
        try connection.send([0x7B, 0x00, 0x7D, 0x0A])
        expectError(try connection.readMessage(timeout: .seconds(10)), code: -32700, name: "parse_error")
        try expectAlive(connection)
    }

    @Test func int64IdsAndArgumentsRoundTripExactly() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let max = try exchange(#"{"id":9223372036854775807,"method":"ping"}"#, on: connection)
        #expect(max["id"] == .int(Int64.max))
        let min = try exchange(#"{"id":-9223372036854775808,"method":"ping"}"#, on: connection)
        #expect(min["id"] == .int(Int64.min))
        let echoed = try connection.call("tools/call", ["name": "echo", "arguments": [
            "big": .int(Int64.max), "small": .int(Int64.min), "odd": 9007199254740993, "pi": 3.14159, "tenth": 0.1,
        ]])
        let structured = try #require(echoed["structuredContent"])
        #expect(structured["big"] == .int(Int64.max))
        #expect(structured["small"] == .int(Int64.min))
        // 2^53 + 1 is where a double would have lost it.
        #expect(structured["odd"] == .int(9_007_199_254_740_993))
        #expect(structured["tenth"] == .double(0.1))
        #expect(echoed["content"]?.arrayValue?.first?["text"]?.stringValue?.contains(#""tenth":0.1}"#) == true)
    }

    @Test func invalidEnvelopes() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        expectError(try exchange(#"[{"id":1,"method":"ping"}]"#, on: connection), code: -32600, name: "invalid_request")
        expectError(try exchange(#"[]"#, on: connection), code: -32600, name: "invalid_request")
        for scalar in ["1", "\"ping\"", "null", "true"] {
            expectError(try exchange(scalar, on: connection), code: -32600, name: "invalid_request")
        }
        for badID in ["1.5", "{}", "[1]", "true", "null"] {
            expectError(try exchange(#"{"id":\#(badID),"method":"ping"}"#, on: connection), code: -32600, name: "invalid_request")
        }
        expectError(try exchange(#"{"id":1}"#, on: connection), code: -32600, name: "invalid_request", id: 1)
        expectError(try exchange(#"{"id":2,"method":7}"#, on: connection), code: -32600, name: "invalid_request", id: 2)
        expectError(try exchange(#"{"id":3,"method":""}"#, on: connection), code: -32600, name: "invalid_request", id: 3)
        expectError(try exchange(#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#, on: connection), code: -32600, name: "invalid_request", id: 4)
        expectError(try exchange(#"{"id":5,"method":"ping","params":[1]}"#, on: connection), code: -32602, name: "invalid_params", id: 5)
        expectError(try exchange(#"{"id":6,"method":"no/such"}"#, on: connection), code: -32601, name: "method_not_found", id: 6)
        try expectAlive(connection)
    }

    @Test func notificationsAreNeverAnswered() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        try connection.send(#"{"jsonrpc":"2.0","method":"no/such/method"}"# + "\n")
        try connection.send(#"{"method":"ping"}"# + "\n")
        try connection.send(#"{"method":"notifications/cancelled","params":{"requestId":999}}"# + "\n")
        try connection.send(#"{"method":7}"# + "\n")
        try connection.send(#"{"jsonrpc":"2.0","id":55,"result":{}}"# + "\n")  // a response: dropped
        try connection.send("\n   \n")  // blank lines: nothing to answer
        let next = try exchange(#"{"id":"after","method":"ping"}"#, on: connection)
        #expect(next["id"] == "after")
    }

    @Test func pipelinedRequestsAnswerOutOfOrder() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let requests = [
            #"{"id":1,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":400}}}"#,
            #"{"id":2,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":100}}}"#,
            #"{"id":3,"method":"ping"}"#,
        ]
        // One write: the daemon sees all three at once.
        try connection.send(requests.joined(separator: "\n") + "\n")
        var order: [JSONValue] = []
        for _ in 0..<3 {
            let message = try connection.readMessage(timeout: .seconds(10))
            #expect(message["error"] == nil)
            order.append(message["id"] ?? .null)
        }
        #expect(order == [3, 2, 1])
    }

    @Test func manyPipelinedRequestsEachGetOneWholeLine() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: "max_inflight_per_connection = 1024"))
        let connection = try daemon.connect()
        var batch = ""
        for index in 0..<500 {
            batch += index % 2 == 0
                ? #"{"id":\#(index),"method":"ping"}"# + "\n"
                : #"{"id":\#(index),"method":"tools/call","params":{"name":"echo","arguments":{"i":\#(index),"pad":"\#(String(repeating: "x", count: 200))"}}}"# + "\n"
        }
        try connection.send(batch)
        var seen = Set<Int64>()
        for _ in 0..<500 {
            let message = try connection.readMessage(timeout: .seconds(20))
            let id = try #require(message["id"]?.intValue)
            #expect(!seen.contains(id))
            seen.insert(id)
            if id % 2 == 1 { #expect(message["result"]?["structuredContent"]?["i"] == .int(id)) }
        }
        #expect(seen.count == 500)
    }

    @Test func duplicateIdsInFlightAreRefused() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        try connection.send(#"{"id":7,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":300}}}"# + "\n")
        expectError(try exchange(#"{"id":7,"method":"ping"}"#, on: connection), code: -32600, name: "duplicate_id", id: 7)
        let first = try connection.readMessage(timeout: .seconds(10))
        #expect(first["id"] == 7)
        #expect(first["result"]?["isError"] == false)
        // Once answered, the id may be used again.
        #expect(try exchange(#"{"id":7,"method":"ping"}"#, on: connection)["result"] == .object([:]))
    }

    @Test func deepNestingIsRefusedAndTheDaemonStaysUp() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        expectError(try exchange(deep, on: connection), code: -32700, name: "parse_error")
        let deepObject = #"{"id":1,"method":"ping","params":{"a":"# + String(repeating: "{\"a\":", count: 100_000)
            + "1" + String(repeating: "}", count: 100_002)
        expectError(try exchange(deepObject, on: connection), code: -32700, name: "parse_error")
        try expectAlive(connection)
        try expectAlive(try daemon.connect())
    }

    @Test func overlongLinesAreRefusedAndTheConnectionStaysUsable() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: "max_line_bytes = 1024"))
        let connection = try daemon.connect()
        let long = #"{"id":1,"method":"ping","params":{"pad":""# + String(repeating: "y", count: 5000) + "\"}}"
        let refused = try exchange(long, on: connection)
        expectError(refused, code: -32600, name: "line_too_long")
        try expectAlive(connection)
        // Far past the limit, sent in pieces: one error, then the connection still works.
        try connection.send(String(repeating: "z", count: 300_000))
        try connection.send(String(repeating: "z", count: 300_000) + "\n")
        expectError(try connection.readMessage(timeout: .seconds(10)), code: -32600, name: "line_too_long")
        try expectAlive(connection)
        // Exactly at the limit is fine.
        let prefix = #"{"id":"edge","method":"ping","params":{"pad":""#
        let exact = prefix + String(repeating: "p", count: 1024 - prefix.utf8.count - 3) + "\"}}"
        #expect(exact.utf8.count == 1024)
        #expect(try exchange(exact, on: connection)["id"] == "edge")
    }

    @Test func inflightLimitPerConnection() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: "max_inflight_per_connection = 2"))
        let connection = try daemon.connect()
        for id in 1...2 {
            try connection.send(#"{"id":\#(id),"method":"tools/call","params":{"name":"sleep","arguments":{"ms":300}}}"# + "\n")
        }
        let third = try exchange(#"{"id":3,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":1}}}"#, on: connection)
        expectError(third, code: -32002, name: "overloaded", id: 3)
        #expect(third["error"]?["data"]?["retryAfterMs"]?.intValue ?? 0 > 0)
        let answers = [try connection.readMessage(timeout: .seconds(10)), try connection.readMessage(timeout: .seconds(10))]
        #expect(Set(answers.compactMap { $0["id"]?.intValue }) == [1, 2])
        #expect(answers.allSatisfy { $0["result"]?["isError"] == false })
        // Room again.
        #expect(try connection.call("tools/call", ["name": "sleep", "arguments": ["ms": 1]])["isError"] == false)
    }

    @Test func connectionLimit() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: "max_connections = 2"))
        // The readiness check's own connection may still be counted for a moment.
        let first = try admittedConnection(daemon)
        let second = try admittedConnection(daemon)
        let third = try daemon.connect()
        expectError(try third.readMessage(timeout: .seconds(10)), code: -32002, name: "overloaded")
        #expect(throws: ClientError.self) { _ = try third.readMessage(timeout: .seconds(10)) }
        second.close()
        // The slot frees when the daemon sees the close.
        let fourth = try admittedConnection(daemon)
        try expectAlive(fourth)
        try expectAlive(first)
    }
}

@Suite(.ownThread) struct OwnThreadTraitTests {
    /// The trait the end-to-end suites rely on really moves a test off the cooperative pool.
    @Test func aBlockingTestRunsOnAThreadOfItsOwn() async {
        #expect(ThreadTaskExecutor.isCurrentThreadAnExecutor)
    }

    /// The slots behind it admit in arrival order: a test that wants them all is not overtaken by
    /// later tests that want one, and gets in once those before it are done.
    @Test func slotsAdmitInOrderAndAWholeMachineWaiterIsNotOvertaken() async throws {
        let load = TestLoad(capacity: 3)
        final class Order: Sendable { let names = Mutex<[String]>([]) }
        let order = Order()
        await load.acquire(1)
        await load.acquire(1)
        let alone = Task {
            await load.acquire(3)
            order.names.withLock { $0.append("alone") }
            load.release(3)
        }
        while load.waitingCount < 1 { try await Task.sleep(for: .milliseconds(1)) }
        let later = Task {
            await load.acquire(1)
            order.names.withLock { $0.append("later") }
            load.release(1)
        }
        while load.waitingCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
        // One slot is free, but the waiter before "later" wants three.
        #expect(load.available == 1)
        #expect(order.names.withLock { $0 }.isEmpty)
        load.release(1)
        load.release(1)
        await alone.value
        await later.value
        #expect(order.names.withLock { $0 } == ["alone", "later"])
        #expect(load.available == 3)
    }
}
