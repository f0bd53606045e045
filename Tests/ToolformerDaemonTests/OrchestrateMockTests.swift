import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

/// `orchestrate` with the offline mock provider, over the socket.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct OrchestrateMockTests {
    static let config = TestDaemon.config(extra: """
        [orchestrator]
        default_provider = "mock"
        [providers.mock]
        kind = "mock"
        [tools.cached_echo]
        kind = "builtin"
        builtin = "echo"
        cache_ttl_s = 600
        """)

    @Test func theReadmeExampleRunsOffline() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let result = try daemon.connect().call("orchestrate", ["prompt": "Please run echo(city=\"Paris\", days=3) and sleep(ms=20)."])
        #expect(result["stopReason"] == "end_turn")
        #expect(result["turns"] == 2)
        #expect(result["provider"] == "mock")
        #expect(result["model"] == "mock")
        let calls = try #require(result["toolCalls"]?.arrayValue)
        #expect(calls.map { $0["name"] } == ["echo", "sleep"])
        #expect(calls[0]["arguments"] == ["city": "Paris", "days": 3])
        #expect(calls[0]["result"]?["structuredContent"] == ["city": "Paris", "days": 3])
        #expect(calls[1]["result"]?["isError"] == false)
        #expect(result["output"] == #"""
            echo: {"city":"Paris","days":3}
            sleep: {"sleptMs":20}
            """#)
        #expect((result["usage"]?["inputTokens"]?.intValue ?? 0) > 0)
        // Deterministic: the same prompt gives the same answer.
        let again = try daemon.connect().call("orchestrate", ["prompt": "Please run echo(city=\"Paris\", days=3) and sleep(ms=20)."])
        #expect(again["output"] == result["output"])
    }

    @Test func withNoToolNamedItAnswersThePromptBack() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let result = try daemon.connect().call("orchestrate", ["messages": [["role": "system", "content": "be brief"], ["role": "user", "content": "hello there"]]])
        #expect(result["output"] == "hello there")
        #expect(result["turns"] == 1)
        #expect(result["toolCalls"] == [])
    }

    @Test func toolsRunOnTheSharedOrchestratorWithItsCache() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let connection = try daemon.connect()
        let prompt = "cached_echo(a=1) cached_echo(a=2) cached_echo(a=3)"
        let first = try connection.call("orchestrate", ["prompt": .string(prompt)])
        #expect(first["toolCalls"]?.arrayValue?.allSatisfy { $0["cached"] == false } == true)
        let second = try connection.call("orchestrate", ["prompt": .string(prompt)])
        #expect(second["toolCalls"]?.arrayValue?.allSatisfy { $0["cached"] == true } == true)
        #expect(second["output"] == first["output"])
        // A plain tools/call shares the same cache.
        let direct = try connection.call("tools/call", ["name": "cached_echo", "arguments": ["a": 2]])
        #expect(direct["_meta"]?["toolformer"]?["cached"] == true)
    }

    @Test func whatTheModelGetsWrongGoesBackToItAsAnError() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let result = try daemon.connect().call("orchestrate", ["prompt": "sleep(ms=\"soon\") echo(oops) echo(ok=true)"])
        #expect(result["stopReason"] == "end_turn")
        let calls = try #require(result["toolCalls"]?.arrayValue)
        #expect(calls.map { $0["result"]?["isError"] } == [true, true, false])
        #expect(calls[0]["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("arguments.ms") == true)
        #expect(calls[1]["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("not a JSON object") == true)
        #expect(result["output"]?.stringValue?.contains("sleep (error):") == true)
    }

    @Test func theToolSubsetIsAllTheModelSees() async throws {
        let daemon = try TestDaemon(config: Self.config)
        // sleep is not offered, so the mock does not call it.
        let result = try daemon.connect().call("orchestrate", ["prompt": "echo(a=1) sleep(ms=1)", "tools": ["echo"]])
        #expect(result["toolCalls"]?.arrayValue?.map { $0["name"] } == ["echo"])
    }

    @Test func runningOutOfTurnsIsStillAResult() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let result = try daemon.connect().call("orchestrate", ["prompt": "echo(a=1) echo(a=2)", "maxTurns": 1])
        #expect(result["stopReason"] == "max_turns")
        #expect(result["turns"] == 1)
        #expect(result["toolCalls"]?.arrayValue?.count == 2)
    }

    @Test func eventsTellTheStoryInOrder() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let connection = try daemon.connect()
        let id = try connection.sendRequest("orchestrate", ["prompt": "echo(a=1) echo(b=2)", "stream": true])
        let (answer, events) = try response(to: id, on: connection)
        #expect(answer["result"]?["stopReason"] == "end_turn")
        let types = events.compactMap { $0["params"]?["type"]?.stringValue }
        #expect(types.first == "llm.started")
        #expect(types.last == "llm.finished")
        #expect(types.filter { $0 == "llm.started" }.count == 2)
        #expect(types.filter { $0 == "tool.finished" }.count == 2)
        #expect(events.compactMap { $0["params"]?["seq"]?.intValue } == Array(1...Int64(events.count)))
        let firstLLM = events.first { $0["params"]?["type"] == "llm.finished" }
        #expect(firstLLM?["params"]?["toolCalls"] == 2)
        let toolEvent = events.first { $0["params"]?["type"] == "tool.finished" }
        #expect(toolEvent?["params"]?["callId"]?.stringValue?.hasPrefix("call_") == true)
    }

    @Test func badParamsAreRefusedWithTheirField() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let connection = try daemon.connect()
        let cases: [(JSONObject, String, String)] = [
            ([:], "prompt", "invalid_params"),
            (["prompt": "x", "messages": [["role": "user", "content": "y"]]], "messages", "invalid_params"),
            (["messages": [["role": "tool", "content": "y"]]], "messages[0].role", "invalid_params"),
            (["prompt": "x", "provider": "nope"], "provider", "invalid_params"),
            (["prompt": "x", "tools": ["nope"]], "tools[0]", "unknown_tool"),
            (["prompt": "x", "maxTurns": 0], "maxTurns", "invalid_params"),
        ]
        for (params, field, name) in cases {
            let error = rpcError { () throws(CallError) in try connection.call("orchestrate", params) }
            #expect(error?.name == name, "\(params)")
            #expect(error?.details["field"] == .string(field), "\(params): \(String(describing: error))")
        }
        let status = try connection.call("daemon/status")
        #expect(status["providers"]?["mock"]?["kind"] == "mock")
    }
}
