import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

/// tools/list and tools/call as the protocol shapes them, over the socket.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct ToolCallTests {
    @Test func listShowsEachToolWithItsSchema() async throws {
        let daemon = try TestDaemon()
        let tools = try daemon.connect().call("tools/list")["tools"]?.arrayValue ?? []
        #expect(tools.compactMap { $0["name"]?.stringValue } == ["echo", "now", "sleep"])
        let sleep = try #require(tools.first { $0["name"] == "sleep" })
        #expect(sleep["inputSchema"]?["required"] == ["ms"])
        #expect(sleep["description"]?.stringValue?.isEmpty == false)
    }

    @Test func argumentsAreCheckedBeforeAnythingRuns() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        func expectRefused(_ params: JSONObject, name: String, field: String?) {
            do {
                _ = try connection.call("tools/call", params)
                Issue.record("accepted \(params)")
            } catch .rpc(let error) {
                #expect(error.rpcCode == -32602)
                #expect(error.name == name)
                if let field { #expect(error.details["field"] == .string(field), "\(error)") }
            } catch {
                Issue.record("\(error)")
            }
        }
        expectRefused(["name": "nope"], name: "unknown_tool", field: "name")
        expectRefused(["arguments": [:]], name: "invalid_params", field: "name")
        expectRefused(["name": "sleep", "arguments": ["ms": "ten"]], name: "invalid_params", field: "arguments.ms")
        expectRefused(["name": "sleep", "arguments": [:]], name: "invalid_params", field: "arguments.ms")
        expectRefused(["name": "sleep", "arguments": ["ms": -1]], name: "invalid_params", field: "arguments.ms")
        expectRefused(["name": "echo", "arguments": [1, 2]], name: "invalid_params", field: "arguments")
        expectRefused(["name": "echo", "timeoutMs": "soon"], name: "invalid_params", field: "timeoutMs")
        expectRefused(["name": "echo", "timeoutMs": 0], name: "invalid_params", field: "timeoutMs")
        try expectAlive(connection)
    }

    @Test func theRequestDeadlineEndsTheCallWithTimeout() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let started = ContinuousClock.now
        do {
            _ = try connection.call("tools/call", ["name": "sleep", "arguments": ["ms": 5000], "timeoutMs": 100])
            Issue.record("no timeout")
        } catch .rpc(let error) {
            #expect(error.rpcCode == -32001)
            #expect(error.name == "timeout")
            #expect(error.retryable)
        }
        #expect(ContinuousClock.now - started < .seconds(4))  // well before the 5 s sleep
        #expect(try connection.call("daemon/status")["inflight"] == 0)
    }

    @Test func aToolPastItsOwnTimeoutIsAToolError() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: "[tools.slow]\nkind = \"builtin\"\nbuiltin = \"sleep\"\ntimeout_ms = 100\n"))
        let connection = try daemon.connect()
        let result = try connection.call("tools/call", ["name": "slow", "arguments": ["ms": 5000]])
        #expect(result["isError"] == true)
        #expect(result["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("timed out") == true)
        #expect(result["_meta"]?["toolformer"]?["durationMs"]?.intValue ?? 0 >= 100)
    }

    @Test func streamedEventsArriveInOrderBeforeTheResponse() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let id = try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 50], "stream": true])
        let (answer, events) = try response(to: id, on: connection)
        #expect(answer["result"]?["isError"] == false)
        #expect(events.map { $0["method"] } == ["event", "event"])
        #expect(events.map { $0["params"]?["seq"] } == [1, 2])
        #expect(events.map { $0["params"]?["type"] } == ["tool.started", "tool.finished"])
        #expect(events.allSatisfy { $0["params"]?["id"] == id.json })
        #expect(events.last?["params"]?["result"] == answer["result"])
        // Without stream: no events.
        let quiet = try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 1]])
        #expect(try response(to: quiet, on: connection).before.isEmpty)
    }

    @Test func aHalfClosedClientStillGetsItsAnswers() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        try connection.send(#"{"id":1,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":200}}}"# + "\n" + #"{"id":2,"method":"ping"}"#)
        connection.shutdownWrite()
        var ids: [JSONValue] = []
        while let line = try connection.readLine(timeout: .seconds(10)) {
            let message = try JSONParser().parse(line)
            ids.append(message["id"] ?? .null)
        }
        #expect(ids == [2, 1])
    }

    @Test func aDisconnectCancelsTheClientsRequests() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        for id in 1...5 {
            try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 30000]], id: .int(Int64(id)))
        }
        let observer = try daemon.connect()
        try waitUntil(timeout: .seconds(5)) { (try observer.call("daemon/status")["inflight"]?.intValue ?? 0) >= 5 }
        connection.close()
        try waitUntil(timeout: .seconds(5)) { try observer.call("daemon/status")["inflight"] == 0 }
    }
}
