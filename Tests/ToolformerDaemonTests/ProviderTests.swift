import Synchronization
import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// `orchestrate` against local servers that speak the OpenAI and Anthropic wire formats.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct ProviderTests {
    static let openAIKey = "sk-test-0123456789abcdef"
    static let anthropicKey = "sk-ant-test-fedcba9876543210"

    static func openAIToolCalls(_ calls: [(id: String, name: String, arguments: String)]) -> String {
        let toolCalls: [JSONValue] = calls.map {
            ["id": .string($0.id), "type": "function", "function": ["name": .string($0.name), "arguments": .string($0.arguments)]]
        }
        return JSONWriter.string([
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
            "choices": [["index": 0, "message": ["role": "assistant", "content": nil, "tool_calls": .array(toolCalls)], "finish_reason": "tool_calls"]],
            "usage": ["prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18],
        ])
    }

    static func openAIText(_ text: String) -> String {
        JSONWriter.string([
            "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-test",
            "choices": [["index": 0, "message": ["role": "assistant", "content": .string(text)], "finish_reason": "stop"]],
            "usage": ["prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23],
        ])
    }

    static func config(_ providers: String, default provider: String, fallbacks: String = "[]") -> String {
        TestDaemon.config(extra: """
            [orchestrator]
            default_provider = "\(provider)"
            fallback_providers = \(fallbacks)
            \(providers)
            """)
    }

    static func openAIProvider(_ name: String, _ server: TestHTTPServer, retries: Int = 3) -> String {
        """
        [providers.\(name)]
        kind = "openai"
        base_url = "\(server.baseURL)/v1"
        model = "gpt-test"
        api_key_env = "TEST_OPENAI_KEY"
        retry = { max_attempts = \(retries), initial_backoff_ms = 10, max_backoff_ms = 50 }
        """
    }

    func body(_ request: RecordedRequest) -> JSONValue { (try? JSONParser().parse(request.body)) ?? .null }

    @Test func openAITwoTurnsWithParallelToolsAndTheRightIDs() async throws {
        let server = try TestHTTPServer.startBlocking { request in
            let body = (try? JSONParser().parse(request.body)) ?? .null
            let hasResults = body["messages"]?.arrayValue?.contains { $0["role"] == "tool" } ?? false
            return .json(hasResults ? Self.openAIText("Both done.") : Self.openAIToolCalls([
                ("call_a", "echo", #"{"x":1}"#), ("call_b", "sleep", #"{"ms":5}"#),
            ]))
        }
        defer { try? server.shutdownBlocking() }
        let daemon = try TestDaemon(
            config: Self.config(Self.openAIProvider("gpt", server), default: "gpt"), arguments: ["--log-level", "debug"],
            environment: ["TEST_OPENAI_KEY": Self.openAIKey])
        let result = try daemon.connect().call("orchestrate", ["prompt": "do both", "tools": ["echo", "sleep"]])
        #expect(result["output"] == "Both done.")
        #expect(result["stopReason"] == "end_turn")
        #expect(result["turns"] == 2)
        #expect(result["provider"] == "gpt")
        #expect(result["model"] == "gpt-test")
        #expect(result["usage"] == ["inputTokens": 31, "outputTokens": 10])
        #expect(result["toolCalls"]?.arrayValue?.map { $0["callId"] } == ["call_a", "call_b"])

        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.method == "POST" && $0.uri == "/v1/chat/completions" })
        #expect(requests[0].header("authorization") == "Bearer \(Self.openAIKey)")
        let first = body(requests[0])
        #expect(first["model"] == "gpt-test")
        #expect(first["tools"]?.arrayValue?.compactMap { $0["function"]?["name"]?.stringValue } == ["echo", "sleep"])
        #expect(first["tools"]?.arrayValue?.first?["type"] == "function")
        let second = try #require(body(requests[1])["messages"]?.arrayValue)
        #expect(second.map { $0["role"] } == ["user", "assistant", "tool", "tool"])
        #expect(second[1]["tool_calls"]?.arrayValue?.map { $0["id"] } == ["call_a", "call_b"])
        #expect(second[2]["tool_call_id"] == "call_a")
        #expect(second[2]["content"] == #"{"x":1}"#)
        #expect(second[3]["tool_call_id"] == "call_b")
        #expect(second[3]["content"] == #"{"sleptMs":5}"#)
        #expect(!daemon.log.contains(Self.openAIKey))
        #expect(!(try daemon.connect().call("daemon/status")).description.contains(Self.openAIKey))
    }

    @Test func anthropicTwoTurnsWithToolUseAndToolResultBlocks() async throws {
        let server = try TestHTTPServer.startBlocking { request in
            let body = (try? JSONParser().parse(request.body)) ?? .null
            let hasResults = body["messages"]?.arrayValue?.contains { message in
                message["content"]?.arrayValue?.contains { $0["type"] == "tool_result" } ?? false
            } ?? false
            let reply: JSONValue = hasResults
                ? ["id": "msg_2", "type": "message", "role": "assistant", "model": "claude-test",
                   "content": [["type": "text", "text": "Both done."]], "stop_reason": "end_turn",
                   "usage": ["input_tokens": 30, "output_tokens": 4]]
                : ["id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
                   "content": [["type": "text", "text": "Checking."],
                               ["type": "tool_use", "id": "toolu_a", "name": "echo", "input": ["x": 1]],
                               ["type": "tool_use", "id": "toolu_b", "name": "echo", "input": ["y": 2]]],
                   "stop_reason": "tool_use", "usage": ["input_tokens": 12, "output_tokens": 9]]
            return .json(JSONWriter.string(reply))
        }
        defer { try? server.shutdownBlocking() }
        let daemon = try TestDaemon(
            config: Self.config("""
                [providers.claude]
                kind = "anthropic"
                base_url = "\(server.baseURL)/v1"
                model = "claude-test"
                api_key_env = "TEST_ANTHROPIC_KEY"
                """, default: "claude"),
            arguments: ["--log-level", "debug"], environment: ["TEST_ANTHROPIC_KEY": Self.anthropicKey])
        let result = try daemon.connect().call("orchestrate", ["messages": [
            ["role": "system", "content": "You are terse."], ["role": "user", "content": "echo twice"],
        ]])
        #expect(result["output"] == "Both done.")
        #expect(result["usage"] == ["inputTokens": 42, "outputTokens": 13])
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests[0].uri == "/v1/messages")
        #expect(requests[0].header("x-api-key") == Self.anthropicKey)
        #expect(requests[0].header("anthropic-version") == "2023-06-01")
        let first = body(requests[0])
        #expect(first["system"] == "You are terse.")
        #expect((first["max_tokens"]?.intValue ?? 0) > 0)
        #expect(first["tools"]?.arrayValue?.first?["input_schema"] != nil)
        let second = try #require(body(requests[1])["messages"]?.arrayValue)
        #expect(second.map { $0["role"] } == ["user", "assistant", "user"])
        let uses = second[1]["content"]?.arrayValue?.filter { $0["type"] == "tool_use" } ?? []
        #expect(uses.map { $0["id"] } == ["toolu_a", "toolu_b"])
        #expect(uses.map { $0["input"] } == [["x": 1], ["y": 2]])
        // Both results in one user message, each with its tool_use_id.
        let results = second[2]["content"]?.arrayValue ?? []
        #expect(results.map { $0["type"] } == ["tool_result", "tool_result"])
        #expect(results.map { $0["tool_use_id"] } == ["toolu_a", "toolu_b"])
        #expect(!daemon.log.contains(Self.anthropicKey))
    }

    @Test func serverErrorsAreRetriedAndRetryAfterIsHonoured() async throws {
        let count = Mutex(0)
        let server = try TestHTTPServer.startBlocking { _ in
            let n = count.withLock { $0 += 1; return $0 }
            switch n {
            case 1, 2: return TestHTTPResponse(status: 503, text: #"{"error":{"message":"overloaded"}}"#)
            case 3: return TestHTTPResponse(status: 429, headers: [("Retry-After", "1")], text: #"{"error":{"message":"slow down"}}"#)
            default: return .json(Self.openAIText("finally"))
            }
        }
        defer { try? server.shutdownBlocking() }
        let daemon = try TestDaemon(
            config: Self.config(Self.openAIProvider("gpt", server, retries: 4), default: "gpt"),
            environment: ["TEST_OPENAI_KEY": Self.openAIKey])
        let started = ContinuousClock.now
        let result = try daemon.connect().call("orchestrate", ["prompt": "hi"])
        #expect(result["output"] == "finally")
        #expect(count.withLock { $0 } == 4)
        #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After: 1 was not honoured")
        let status = try daemon.connect().call("daemon/status")["providers"]?["gpt"]
        #expect(status?["requests"] == 4)
        #expect(status?["failures"] == 3)
        #expect(status?["lastError"]?["status"] == 429)
    }

    @Test func aFailingProviderFallsBackAndAllFailingIsProviderError() async throws {
        let broken = try TestHTTPServer.startBlocking { _ in TestHTTPResponse(status: 500, text: "boom") }
        defer { try? broken.shutdownBlocking() }
        let daemon = try TestDaemon(
            config: Self.config(Self.openAIProvider("gpt", broken, retries: 2) + "\n[providers.mock]\nkind = \"mock\"\n", default: "gpt", fallbacks: #"["mock"]"#),
            environment: ["TEST_OPENAI_KEY": Self.openAIKey])
        let result = try daemon.connect().call("orchestrate", ["prompt": "echo(a=1)"])
        #expect(result["provider"] == "mock")
        #expect(result["stopReason"] == "end_turn")
        #expect(result["turns"] == 2)
        // Two attempts at the broken one in the first turn; the second turn stays with the mock.
        #expect(broken.requests.count == 2)

        let alone = try TestDaemon(
            config: Self.config(Self.openAIProvider("gpt", broken, retries: 2), default: "gpt"),
            environment: ["TEST_OPENAI_KEY": Self.openAIKey])
        let aloneConnection = try alone.connect()
        let error = rpcError { () throws(CallError) in try aloneConnection.call("orchestrate", ["prompt": "hi"]) }
        #expect(error?.rpcCode == -32005)
        #expect(error?.name == "provider_error")
        #expect(error?.details["provider"] == "gpt")
        #expect(error?.details["status"] == 500)
    }

    @Test func runningOutOfTurnsGivesAClearResult() async throws {
        let turn = Mutex(0)
        let server = try TestHTTPServer.startBlocking { _ in
            let n = turn.withLock { $0 += 1; return $0 }
            return .json(Self.openAIToolCalls([("call_\(n)", "echo", #"{"n":\#(n)}"#)]))
        }
        defer { try? server.shutdownBlocking() }
        let daemon = try TestDaemon(
            config: Self.config(Self.openAIProvider("gpt", server), default: "gpt"), environment: ["TEST_OPENAI_KEY": Self.openAIKey])
        let result = try daemon.connect().call("orchestrate", ["prompt": "loop forever", "maxTurns": 3])
        #expect(result["stopReason"] == "max_turns")
        #expect(result["turns"] == 3)
        #expect(result["toolCalls"]?.arrayValue?.map { $0["callId"] } == ["call_1", "call_2", "call_3"])
        #expect(server.requests.count == 3)
    }

    @Test func cancellingAnOrchestrateAbortsTheHTTPRequest() async throws {
        let server = try TestHTTPServer.startBlocking { _ in
            var response = TestHTTPResponse.json(Self.openAIText("too late"))
            response.delay = .seconds(10)
            return response
        }
        defer { try? server.shutdownBlocking() }
        let daemon = try TestDaemon(
            config: Self.config(Self.openAIProvider("gpt", server), default: "gpt"), environment: ["TEST_OPENAI_KEY": Self.openAIKey])
        let connection = try daemon.connect()
        try connection.sendRequest("orchestrate", ["prompt": "slow"], id: 9)
        try waitUntil(timeout: .seconds(5)) { server.requests.count == 1 }
        try connection.sendNotification("notifications/cancelled", ["requestId": 9])
        expectError(try connection.readMessage(timeout: .seconds(5)), code: -32800, name: "cancelled", id: 9)
        try waitUntil(timeout: .seconds(5)) { server.closedBeforeResponse == 1 }
    }

    @Test func aMissingKeyLeavesTheProviderUnavailableWithTheReason() async throws {
        let daemon = try TestDaemon(config: Self.config("""
            [providers.gpt]
            kind = "openai"
            base_url = "http://127.0.0.1:9/v1"
            api_key_env = "NOT_SET_ANYWHERE"
            """, default: "gpt"))
        let connection = try daemon.connect()
        let error = rpcError { () throws(CallError) in try connection.call("orchestrate", ["prompt": "hi"]) }
        #expect(error?.name == "provider_error")
        #expect(error?.message.contains("NOT_SET_ANYWHERE") == true)
    }
}
