import Foundation
import Testing
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol
import ToolformerTesting

@testable import ToolformerProviders

@Suite(.timeLimit(.minutes(1)))
struct OpenAIProviderTests {
    static let textAnswer = #"""
        {"id":"chatcmpl-1","object":"chat.completion","created":1727701994,"model":"gpt-4o-mini-2024-07-18",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Paris is sunny.","refusal":null},
                     "logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":28,"completion_tokens":20,"total_tokens":48}}
        """#

    static let toolCallAnswer = #"""
        {"id":"chatcmpl-2","object":"chat.completion","model":"gpt-4o-mini-2024-07-18",
         "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"Checking both.",
           "tool_calls":[
             {"id":"call_abc","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
             {"id":"call_def","type":"function","function":{"name":"weather","arguments":"{\"city\": \"Oslo\", \"days\": 3}"}}
           ]}}],
         "usage":{"prompt_tokens":120,"completion_tokens":45,"total_tokens":165}}
        """#

    func provider(
        _ server: TestHTTPServer, client: SharedHTTPClient, key: ToolformerConfig.Secret? = .environment("API_KEY"),
        environment: [String: String] = ["API_KEY": "sk-test"], timeoutMs: Int = 10_000,
        headers: [String: String] = [:]
    ) throws -> OpenAIProvider {
        try OpenAIProvider(
            config: providerConfig(.openai, baseURL: server.baseURL, key: key, timeoutMs: timeoutMs, headers: headers),
            client: client, environment: environment, logger: providerTestQuietLogger)
    }

    // MARK: Request

    @Test func requestCarriesTheConversationToolsAndHeaders() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client, headers: ["OpenAI-Organization": "org-42"])
                _ = try await provider.complete(Conversation.request(callIDs: ("call_1", "call_2")))

                let request = try #require(server.requests.first)
                #expect(request.method == "POST")
                #expect(request.uri == "/v1/chat/completions")
                #expect(request.header("authorization") == "Bearer sk-test")
                #expect(request.header("content-type") == "application/json")
                #expect(request.header("openai-organization") == "org-42")

                let body = try jsonBody(request)
                #expect(body["model"] == "test-model")
                // 127.0.0.1 is a compatible server, not api.openai.com: the field they all know.
                #expect(body["max_tokens"] == 512)
                #expect(body["max_completion_tokens"] == nil)
                #expect(body["stream"] == nil)

                let messages = try #require(body["messages"]?.arrayValue)
                try #require(messages.count == 5)
                #expect(messages[0] == ["role": "system", "content": "Be brief."])
                #expect(messages[1] == ["role": "user", "content": "Weather in Paris and Oslo?"])
                // An assistant turn that only calls tools has content null, and string arguments.
                #expect(messages[2]["role"] == "assistant")
                #expect(messages[2]["content"] == .null)
                let calls = try #require(messages[2]["tool_calls"]?.arrayValue)
                #expect(
                    calls == [
                        [
                            "id": "call_1", "type": "function",
                            "function": ["name": "weather", "arguments": #"{"city":"Paris"}"#],
                        ],
                        [
                            "id": "call_2", "type": "function",
                            "function": ["name": "weather", "arguments": #"{"city":"Oslo"}"#],
                        ],
                    ])
                #expect(messages[3] == ["role": "tool", "tool_call_id": "call_1", "content": "18 °C, sunny"])
                #expect(
                    messages[4] == ["role": "tool", "tool_call_id": "call_2", "content": "HTTP 503: upstream down"])

                let tools = try #require(body["tools"]?.arrayValue)
                #expect(
                    tools == [
                        [
                            "type": "function",
                            "function": [
                                "name": "weather", "description": "Current weather for a city.",
                                "parameters": Conversation.weatherSchema,
                            ],
                        ],
                        [
                            "type": "function",
                            "function": [
                                "name": "echo", "description": "Returns its arguments.",
                                "parameters": ["type": "object"],
                            ],
                        ],
                    ])
            }
        }
    }

    @Test func assistantTextIsSentBesideItsToolCalls() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                _ = try await provider.complete(Conversation.request(assistantText: "Checking.", callIDs: ("a", "b")))
                let body = try jsonBody(try #require(server.requests.first))
                #expect(body["messages"]?.arrayValue?[2]["content"] == "Checking.")
            }
        }
    }

    @Test func noToolsMeansNoToolsKey() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                _ = try await provider.complete(LLMRequest(model: "", messages: [.user("hi")], tools: []))
                let body = try jsonBody(try #require(server.requests.first))
                #expect(body["tools"] == nil)
                // An empty model is the configured one.
                #expect(body["model"] == .string(ProviderConfig.Kind.openai.defaultModel))
                #expect(body["messages"] == [["role": "user", "content": "hi"]])
            }
        }
    }

    @Test func noKeyConfiguredSendsNoAuthorizationHeader() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client, key: nil, environment: [:])
                let response = try await provider.complete(
                    LLMRequest(model: "llama3", messages: [.user("hi")], tools: []))
                #expect(response.text == "Paris is sunny.")
                let request = try #require(server.requests.first)
                #expect(request.header("authorization") == nil)
            }
        }
    }

    @Test func maxCompletionTokensGoesToOpenAIOnly() {
        #expect(OpenAIProvider.maxTokensField(baseURL: "https://api.openai.com/v1") == "max_completion_tokens")
        #expect(OpenAIProvider.maxTokensField(baseURL: "https://API.OpenAI.com:443/v1") == "max_completion_tokens")
        #expect(
            OpenAIProvider.maxTokensField(baseURL: "https://res.openai.azure.com/openai/v1") == "max_completion_tokens")
        #expect(OpenAIProvider.maxTokensField(baseURL: "http://localhost:11434/v1") == "max_tokens")
        #expect(OpenAIProvider.maxTokensField(baseURL: "http://127.0.0.1:8080/v1") == "max_tokens")
        #expect(OpenAIProvider.maxTokensField(baseURL: "https://api.openai.com.evil.example/v1") == "max_tokens")
        #expect(OpenAIProvider.maxTokensField(baseURL: "https://user@api.openai.com/v1") == "max_completion_tokens")
    }

    // MARK: Response

    @Test func parsesTextToolCallsUsageAndFinishReason() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.toolCallAnswer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                let response = try await provider.complete(
                    LLMRequest(model: "gpt-4o-mini", messages: [.user("Weather?")], tools: Conversation.tools))
                #expect(response.text == "Checking both.")
                #expect(response.stopReason == "tool_calls")
                #expect(response.usage == TokenUsage(inputTokens: 120, outputTokens: 45))
                #expect(response.model == "gpt-4o-mini-2024-07-18")
                #expect(
                    response.toolCalls == [
                        ModelToolCall(
                            id: "call_abc", name: "weather", rawArguments: #"{"city":"Paris"}"#,
                            arguments: ["city": "Paris"]),
                        ModelToolCall(
                            id: "call_def", name: "weather", rawArguments: #"{"city": "Oslo", "days": 3}"#,
                            arguments: ["city": "Oslo", "days": 3]),
                    ])
            }
        }
    }

    @Test func argumentsThatAreNotAJSONObjectStayRaw() async throws {
        let answer = #"""
            {"model":"m","choices":[{"finish_reason":"tool_calls","message":{"role":"assistant","content":null,
              "tool_calls":[
                {"id":"c1","type":"function","function":{"name":"echo","arguments":"{\"city\": \"Par"}},
                {"id":"c2","type":"function","function":{"name":"echo","arguments":"[1,2]"}},
                {"id":"c3","type":"function","function":{"name":"echo","arguments":""}}
              ]}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}
            """#
        try await TestHTTPServer.with({ _ in .json(answer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                let response = try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                #expect(response.text == "")
                #expect(
                    response.toolCalls == [
                        ModelToolCall(id: "c1", name: "echo", rawArguments: #"{"city": "Par"#, arguments: nil),
                        ModelToolCall(id: "c2", name: "echo", rawArguments: "[1,2]", arguments: nil),
                        // No arguments at all is an empty object, as "{}" would be.
                        ModelToolCall(id: "c3", name: "echo", rawArguments: "", arguments: [:]),
                    ])
            }
        }
    }

    @Test func malformedSuccessIsAFailureThatSaysWhatIsMissing() async throws {
        try await TestHTTPServer.with({ request in
            switch request.uri {
            case "/a/v1/chat/completions": .json(#"{"id":"x","usage":{}}"#)
            case "/b/v1/chat/completions": .json(#"{"choices":[]}"#)
            case "/c/v1/chat/completions": .json(#"{"choices":[{"finish_reason":"stop"}]}"#)
            case "/d/v1/chat/completions": TestHTTPResponse(text: "<html>hello</html>")
            default: .json(#"{"choices":[{"message":{"tool_calls":[{"id":"x","function":{}}]}}]}"#)
            }
        }) { server in
            try await withProviderHTTPClient { client in
                let expectations = [
                    ("a", "no choices"), ("b", "choices is empty"), ("c", "no message"), ("d", "not a JSON object"),
                    ("e", "tool_calls[0] has no function name"),
                ]
                for (path, text) in expectations {
                    let provider = try OpenAIProvider(
                        config: providerConfig(.openai, baseURL: server.baseURL + "/" + path), client: client,
                        environment: ["API_KEY": "sk-test"], logger: providerTestQuietLogger)
                    let failure = await providerFailure {
                        try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                    }
                    #expect(failure?.retryable == false, "\(path)")
                    #expect(failure?.status == 200, "\(path)")
                    #expect(failure?.message.contains(text) == true, "\(path): \(failure?.message ?? "none")")
                }
            }
        }
    }

    // MARK: Failures

    @Test func serviceUnavailableIsRetryableWithTheServersMessage() async throws {
        let body = #"{"error":{"message":"The server is overloaded.","type":"server_error","param":null,"code":null}}"#
        try await TestHTTPServer.with({ _ in .json(body, status: 503) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                let failure = try #require(
                    await providerFailure {
                        try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                    })
                #expect(failure.status == 503)
                #expect(failure.retryable)
                #expect(failure.message == "The server is overloaded.")
                #expect(failure.retryAfter == nil)
            }
        }
    }

    @Test func tooManyRequestsCarriesRetryAfter() async throws {
        try await TestHTTPServer.with({ request in
            if request.uri.hasPrefix("/ms/") {
                return .json(
                    #"{"error":{"message":"Rate limit reached"}}"#, status: 429,
                    headers: [("retry-after-ms", "1500"), ("Retry-After", "2")])
            }
            return .json(#"{"error":{"message":"Rate limit reached"}}"#, status: 429, headers: [("Retry-After", "2")])
        }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client)
                let failure = try #require(
                    await providerFailure {
                        try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                    })
                #expect(failure.status == 429)
                #expect(failure.retryable)
                #expect(failure.retryAfter == .seconds(2))
                #expect(failure.message == "Rate limit reached")

                let precise = try OpenAIProvider(
                    config: providerConfig(.openai, baseURL: server.baseURL + "/ms"), client: client,
                    environment: ["API_KEY": "sk-test"], logger: providerTestQuietLogger)
                let second = await providerFailure {
                    try await precise.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                }
                #expect(second?.retryAfter == .milliseconds(1500))
            }
        }
    }

    @Test func statusesThatRetryingCannotFixAreFinal() async throws {
        try await TestHTTPServer.with({ request in
            let status = Int(request.uri.split(separator: "/")[0]) ?? 400
            return .json(#"{"error":{"message":"nope"}}"#, status: status)
        }) { server in
            try await withProviderHTTPClient { client in
                for (status, retryable) in [
                    (400, false), (401, false), (403, false), (404, false), (408, true), (409, true), (422, false),
                    (429, true), (500, true), (502, true), (504, true),
                ] {
                    let provider = try OpenAIProvider(
                        config: providerConfig(.openai, baseURL: server.baseURL + "/\(status)"), client: client,
                        environment: ["API_KEY": "sk-test"], logger: providerTestQuietLogger)
                    let failure = await providerFailure {
                        try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                    }
                    #expect(failure?.status == status)
                    #expect(failure?.retryable == retryable, "HTTP \(status)")
                }
            }
        }
    }

    @Test func unauthorizedIsFinalAndNeverShowsTheKey() async throws {
        let key = "sk-test-0123456789abcdef"
        let logs = ProviderTestLogs()
        // A server that echoes the request's Authorization and organisation headers in its errors.
        try await TestHTTPServer.with({ request in
            let authorization = request.header("authorization") ?? ""
            let organisation = request.header("openai-organization") ?? ""
            let message = "Incorrect API key provided: \(authorization) for \(organisation)."
            let status = Int(request.uri.split(separator: "/")[0]) ?? 401
            return .json(
                JSONWriter.string(["error": ["message": .string(message), "type": "invalid_request_error"]]),
                status: status)
        }) { server in
            try await withProviderHTTPClient(logger: logs.logger) { client in
                for status in [400, 401, 403, 404, 429, 500, 503] {
                    let provider = try OpenAIProvider(
                        config: providerConfig(
                            .openai, baseURL: server.baseURL + "/\(status)",
                            headers: ["OpenAI-Organization": "org-secret-77"]),
                        client: client, environment: ["API_KEY": key], logger: logs.logger)
                    let failure = try #require(
                        await providerFailure {
                            try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                        })
                    #expect(failure.retryable == (status >= 429))
                    #expect(failure.message.hasPrefix("Incorrect API key provided: Bearer [REDACTED] for [REDACTED]"))
                    for text in [failure.message, failure.description, "\(failure)", String(reflecting: failure)] {
                        #expect(!text.contains(key))
                        #expect(!text.contains("org-secret-77"))
                    }
                }
            }
            #expect(logs.all.contains { $0.contains("provider request failed") })
            #expect(!logs.all.contains { $0.contains(key) || $0.contains("org-secret-77") })
        }
    }

    @Test func longErrorMessagesAreCutAndBodiesWithoutOneGetAGenericText() async throws {
        try await TestHTTPServer.with({ request in
            if request.uri.hasPrefix("/long/") {
                return .json(
                    JSONWriter.string(["error": ["message": .string(String(repeating: "x", count: 5000))]]), status: 400
                )
            }
            return TestHTTPResponse(status: 502, text: "<html><body>Bad gateway sk-test</body></html>")
        }) { server in
            try await withProviderHTTPClient { client in
                let long = try OpenAIProvider(
                    config: providerConfig(.openai, baseURL: server.baseURL + "/long"), client: client,
                    environment: ["API_KEY": "sk-test"], logger: providerTestQuietLogger)
                let first = await providerFailure {
                    try await long.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                }
                #expect(first?.message.count == 301)
                #expect(first?.message.hasSuffix("…") == true)

                let html = try provider(server, client: client)
                let second = await providerFailure {
                    try await html.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                }
                #expect(second?.message == "Bad Gateway")
                #expect(second?.retryable == true)
            }
        }
    }

    @Test func refusedConnectionIsRetryable() async throws {
        let port = try await closedProviderPort()
        try await withProviderHTTPClient { client in
            let provider = try OpenAIProvider(
                config: providerConfig(.openai, baseURL: "http://127.0.0.1:\(port)"), client: client,
                environment: ["API_KEY": "sk-test"], logger: providerTestQuietLogger)
            let failure = await providerFailure {
                try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
            }
            #expect(failure?.retryable == true)
            #expect(failure?.status == nil)
            #expect(failure?.message.contains("sk-test") == false)
        }
    }

    @Test func timeoutIsARetryableFailureAndAbortsTheRequest() async throws {
        try await TestHTTPServer.with({ _ in .json(Self.textAnswer, delay: .seconds(30)) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try provider(server, client: client, timeoutMs: 300)
                let started = ContinuousClock.now
                let failure = await providerFailure {
                    try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                }
                // Far below the server's 30 s: the timeout ended it. Generous, because the suite
                // runs beside the soak test on two cores.
                #expect(ContinuousClock.now - started < .seconds(15))
                #expect(failure?.retryable == true)
                #expect(failure?.status == nil)
                #expect(failure?.message.contains("300 ms") == true)
                #expect(await server.waitUntil(timeout: .seconds(5)) { $0.closedBeforeResponse == 1 })
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
                #expect(await server.waitUntil(timeout: .seconds(5)) { $0.openConnections == 0 })
                #expect(client.statistics().inFlight == 0)
            }
        }
    }
}
