import Foundation
import Testing
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol
import ToolformerProviders
import ToolformerTesting

@Suite(.timeLimit(.minutes(1)))
struct AnthropicProviderTests {
    static let toolUseAnswer = #"""
        {"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":[
           {"type":"text","text":"I'll check "},
           {"type":"text","text":"both cities."},
           {"type":"tool_use","id":"toolu_01A","name":"weather","input":{"city":"Paris"}},
           {"type":"tool_use","id":"toolu_01B","name":"weather","input":{"city":"Oslo","days":3}}
         ],
         "stop_reason":"tool_use","stop_sequence":null,
         "usage":{"input_tokens":412,"output_tokens":97}}
        """#

    static let textAnswer = #"""
        {"id":"msg_2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":[{"type":"text","text":"Paris is sunny."}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":10,"output_tokens":5}}
        """#

    func provider(
        _ server: TestHTTPServer, client: SharedHTTPClient, path: String = "", key: String = "sk-ant-test",
        timeoutMs: Int = 10_000, headers: [String: String] = [:]
    ) throws -> AnthropicProvider {
        try AnthropicProvider(
            config: providerConfig(.anthropic, baseURL: server.baseURL + path, timeoutMs: timeoutMs, headers: headers),
            client: client, environment: ["API_KEY": key], logger: providerTestQuietLogger)
    }

    // MARK: Request

    @Test func requestCarriesTheConversationToolsAndHeaders() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(
                    server, client: client, headers: ["anthropic-beta": "token-efficient-tools"])
                _ = try await provider.complete(
                    Conversation.request(assistantText: "Checking both.", callIDs: ("toolu_1", "toolu_2")))

                let request = try #require(server.requests.first)
                #expect(request.method == "POST")
                #expect(request.uri == "/v1/messages")
                #expect(request.header("x-api-key") == "sk-ant-test")
                #expect(request.header("anthropic-version") == "2023-06-01")
                #expect(request.header("content-type") == "application/json")
                #expect(request.header("anthropic-beta") == "token-efficient-tools")
                #expect(request.header("authorization") == nil)

                let body = try jsonBody(request)
                #expect(body["model"] == "test-model")
                #expect(body["max_tokens"] == 512)
                #expect(body["system"] == "Be brief.")

                let messages = try #require(body["messages"]?.arrayValue)
                try #require(messages.count == 3)
                #expect(messages[0] == ["role": "user", "content": "Weather in Paris and Oslo?"])
                #expect(
                    messages[1] == [
                        "role": "assistant",
                        "content": [
                            ["type": "text", "text": "Checking both."],
                            ["type": "tool_use", "id": "toolu_1", "name": "weather", "input": ["city": "Paris"]],
                            ["type": "tool_use", "id": "toolu_2", "name": "weather", "input": ["city": "Oslo"]],
                        ],
                    ])
                // Both results in ONE user message, the failed one marked.
                #expect(
                    messages[2] == [
                        "role": "user",
                        "content": [
                            ["type": "tool_result", "tool_use_id": "toolu_1", "content": "18 °C, sunny"],
                            [
                                "type": "tool_result", "tool_use_id": "toolu_2", "content": "HTTP 503: upstream down",
                                "is_error": true,
                            ],
                        ],
                    ])

                #expect(
                    body["tools"] == [
                        [
                            "name": "weather", "description": "Current weather for a city.",
                            "input_schema": Conversation.weatherSchema,
                        ],
                        ["name": "echo", "description": "Returns its arguments.", "input_schema": ["type": "object"]],
                    ])
            }
        }
    }

    @Test func noSystemAndNoToolsLeaveTheirKeysOut() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                _ = try await provider.complete(LLMRequest(model: "", messages: [.user("hi")], tools: []))
                let body = try jsonBody(try #require(server.requests.first))
                #expect(body["system"] == nil)
                #expect(body["tools"] == nil)
                #expect(body["model"] == .string(ProviderConfig.Kind.anthropic.defaultModel))
                #expect(body["messages"] == [["role": "user", "content": "hi"]])
            }
        }
    }

    @Test func userTextAfterToolResultsJoinsTheirMessageAfterThem() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                var request = Conversation.request(callIDs: ("t1", "t2"))
                request.messages.append(.user("Answer in one line."))
                request.messages.insert(.system("No emoji."), at: 1)
                _ = try await provider.complete(request)
                let body = try jsonBody(try #require(server.requests.first))
                #expect(body["system"] == "Be brief.\n\nNo emoji.")
                let messages = try #require(body["messages"]?.arrayValue)
                try #require(messages.count == 3)
                // An assistant turn with only tool calls has only tool_use blocks.
                #expect(messages[1]["content"]?.arrayValue?.map { $0["type"] } == ["tool_use", "tool_use"])
                #expect(
                    messages[2]["content"]?.arrayValue?.map { $0["type"] } == ["tool_result", "tool_result", "text"])
            }
        }
    }

    // MARK: Response

    @Test func parsesTextToolUseUsageAndStopReason() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.toolUseAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                let response = try await provider.complete(
                    LLMRequest(model: "claude-sonnet-4-5", messages: [.user("Weather?")], tools: Conversation.tools))
                #expect(response.text == "I'll check both cities.")
                #expect(response.stopReason == "tool_use")
                #expect(response.usage == TokenUsage(inputTokens: 412, outputTokens: 97))
                #expect(response.model == "claude-sonnet-4-5-20250929")
                try #require(response.toolCalls.count == 2)
                #expect(response.toolCalls[0].id == "toolu_01A")
                #expect(response.toolCalls[0].name == "weather")
                #expect(response.toolCalls[0].arguments == ["city": "Paris"])
                #expect(response.toolCalls[1].id == "toolu_01B")
                #expect(response.toolCalls[1].arguments == ["city": "Oslo", "days": 3])
                #expect(try JSONParser().parse(response.toolCalls[1].rawArguments) == ["city": "Oslo", "days": 3])
            }
        }
    }

    @Test func malformedSuccessIsAFailureThatSaysWhatIsMissing() async throws {
        try await TestHTTPServer.with({ request in
            switch request.uri {
            case "/a/v1/messages": .json(#"{"id":"msg","stop_reason":"end_turn"}"#)
            case "/b/v1/messages": .json(#"{"content":[{"type":"tool_use","name":"weather","input":{}}]}"#)
            default: .json("[1,2,3]")
            }
        }) { server in
            try await withProviderHTTPClient { client in
                for (path, text) in [("/a", "no content array"), ("/b", "without an id"), ("/c", "not a JSON object")] {
                    let provider = try provider(server, client: client, path: path)
                    let failure = await providerFailure {
                        try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                    }
                    #expect(failure?.retryable == false, "\(path)")
                    #expect(failure?.message.contains(text) == true, "\(path): \(failure?.message ?? "none")")
                }
            }
        }
    }

    // MARK: Failures

    @Test func overloadedIsRetryable() async throws {
        let body = #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#
        try await TestHTTPServer.with({ request in
            request.uri.hasPrefix("/503/") ? .json(body, status: 503) : .json(body, status: 529)
        }) { server in
            try await withProviderHTTPClient { client in
                for (path, status) in [("", 529), ("/503", 503)] {
                    let provider = try provider(server, client: client, path: path)
                    let failure = try #require(
                        await providerFailure {
                            try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                        })
                    #expect(failure.status == status)
                    #expect(failure.retryable)
                    #expect(failure.message == "Overloaded")
                }
            }
        }
    }

    @Test func rateLimitedCarriesRetryAfter() async throws {
        let body =
            #"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#
        try await TestHTTPServer.with({ _ in .json(body, status: 429, headers: [("retry-after", "2")]) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                let failure = try #require(
                    await providerFailure {
                        try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                    })
                #expect(failure.status == 429)
                #expect(failure.retryable)
                #expect(failure.retryAfter == .seconds(2))
                #expect(failure.message.hasPrefix("Number of request tokens"))
            }
        }
    }

    @Test func unauthorizedIsFinalAndNeverShowsTheKey() async throws {
        let key = "sk-ant-api03-abcdefghijklmnop"
        try await TestHTTPServer.with({ request in
            // A server that quotes the key it was sent.
            let message = "invalid x-api-key: \(request.header("x-api-key") ?? "")"
            return .json(
                JSONWriter.string([
                    "type": "error", "error": ["type": "authentication_error", "message": .string(message)],
                ]),
                status: 401)
        }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client, key: key)
                let failure = try #require(
                    await providerFailure {
                        try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                    })
                #expect(failure.status == 401)
                #expect(!failure.retryable)
                #expect(failure.message == "invalid x-api-key: [REDACTED]")
                #expect(!failure.description.contains(key))
            }
        }
    }

    @Test func cancellationAbortsTheRequest() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer, delay: .seconds(30)) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                let call = Task {
                    try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                }
                #expect(await server.waitUntil { $0.requests.count == 1 })
                let cancelled = ContinuousClock.now
                call.cancel()
                let result = await call.result
                #expect(ContinuousClock.now - cancelled < .seconds(10))  // the answer would take 30 s
                #expect(throws: CancellationError.self) { try result.get() }
                #expect(await server.waitUntil(timeout: .seconds(5)) { $0.closedBeforeResponse == 1 })
                #expect(client.statistics().inFlight == 0)
            }
        }
    }
}
