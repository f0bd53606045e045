import Foundation
import Testing
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol
import ToolformerTesting
@testable import ToolformerTools

@Suite(.timeLimit(.minutes(1)))
struct HTTPToolTests {
    // MARK: Request

    @Test func placeholdersArePercentEncodedWithUnreservedCharactersOnly() async throws {
        try await TestHTTPServer.with({ _ in .json(#"{"ok":true}"#) }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/weather/{city}?units={units}&raw=a/b")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let output = try await tool.call(["city": "São Paulo/x?y&z é~", "units": 3])
                #expect(!output.isError)
                let request = try #require(server.requests.first)
                #expect(request.uri == "/weather/S%C3%A3o%20Paulo%2Fx%3Fy%26z%20%C3%A9~?units=3&raw=a/b")
            }
        }
    }

    @Test func numbersAndBooleansFillPlaceholdersAsJSONText() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok") }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/{a}/{b}/{c}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                _ = try await tool.call(["a": 1.5, "b": true, "c": -7])
                #expect(server.requests.first?.uri == "/1.5/true/-7")
            }
        }
    }

    @Test func missingPlaceholderArgumentIsAnErrorNamingIt() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok") }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/weather/{city}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let output = try await tool.call(["town": "Paris"])
                #expect(output.isError)
                #expect(output.text.contains("'city'"))
                let notScalar = try await tool.call(["city": ["Paris"]])
                #expect(notScalar.isError && notScalar.text.contains("array"))
                #expect(server.requests.isEmpty)
            }
        }
    }

    @Test func onlyHTTPAndHTTPSURLs() async throws {
        try await withHTTPClient { client in
            let (config, http) = httpToolConfig(url: "file:///etc/{name}")
            let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
            let output = try await tool.call(["name": "passwd"])
            #expect(output.isError && output.text.contains("http"))
        }
    }

    @Test func headersAreSentWithEnvironmentAndCredentialValues() async throws {
        let directory = try makeHTTPTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "cred-abcdef\n".write(toFile: directory + "/service_key", atomically: true, encoding: .utf8)
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok") }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(
                    url: server.baseURL + "/x",
                    headers: [
                        "Authorization": "Bearer ${API_TOKEN}", "X-Service-Key": "${credential:service_key}",
                        "Accept": "application/json", "X-Price": "$5 and ${CURRENCY}",
                    ])
                let tool = HTTPTool(
                    config: config, http: http, client: client,
                    environment: ["API_TOKEN": "tok-123456", "CURRENCY": "EUR"], credentialsDirectory: directory)
                _ = try await tool.call([:])
                let request = try #require(server.requests.first)
                #expect(request.header("authorization") == "Bearer tok-123456")
                #expect(request.header("x-service-key") == "cred-abcdef")
                #expect(request.header("accept") == "application/json")
                #expect(request.header("x-price") == "$5 and EUR")
                #expect(request.header("user-agent")?.hasPrefix("toolformerd/") == true)
                #expect(request.method == "GET")
                #expect(request.body.isEmpty)
            }
        }
    }

    @Test func unknownVariablesAndCredentialsFailNamingThem() async throws {
        let directory = try makeHTTPTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok") }) { server in
            try await withHTTPClient { client in
                let cases: [([String: String], String?, String)] = [
                    (["Authorization": "Bearer ${MISSING_TOKEN}"], directory, "${MISSING_TOKEN}"),
                    (["X-Key": "${credential:nope}"], directory, "credential:nope"),
                    (["X-Key": "${credential:nope}"], nil, "CREDENTIALS_DIRECTORY"),
                    (["X-Key": "${credential:../etc/passwd}"], directory, "not a credential name"),
                    (["X-Key": "abc ${OPEN"], directory, "closing"),
                    (["X-Key": "${SECRET_WITH_BREAK}"], directory, "line break"),
                ]
                for (headers, credentials, expected) in cases {
                    let (config, http) = httpToolConfig(url: server.baseURL + "/x", headers: headers)
                    let tool = HTTPTool(
                        config: config, http: http, client: client,
                        environment: ["SECRET_WITH_BREAK": "s3cr3t\r\nX-Evil: 1"], credentialsDirectory: credentials)
                    let output = try await tool.call([:])
                    #expect(output.isError, "\(headers)")
                    #expect(output.text.contains(expected), "\(output.text)")
                    #expect(!output.text.contains("s3cr3t"))
                }
                #expect(server.requests.isEmpty)
            }
        }
    }

    @Test(arguments: ["POST", "PUT", "PATCH"])
    func bodyMethodsSendTheArgumentsAsJSON(method: String) async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(status: 201, text: "created") }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(method: method, url: server.baseURL + "/items/{id}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let arguments: JSONObject = ["id": 7, "name": "zoë", "tags": ["a", "b"], "nested": ["x": nil]]
                let output = try await tool.call(arguments)
                #expect(output == ToolOutput(text: "created"))
                let request = try #require(server.requests.first)
                #expect(request.method == method)
                #expect(request.uri == "/items/7")
                #expect(request.body == JSONWriter.bytes(.object(arguments)))
                #expect(request.header("content-type") == "application/json")
            }
        }
    }

    @Test func aConfiguredContentTypeIsKept() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok") }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(
                    method: "post", url: server.baseURL + "/x", headers: ["content-type": "application/vnd.api+json"])
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                _ = try await tool.call(["a": 1])
                let request = try #require(server.requests.first)
                #expect(request.method == "POST")
                #expect(request.headers.filter { $0.0.lowercased() == "content-type" }.map(\.1) == ["application/vnd.api+json"])
            }
        }
    }

    @Test(arguments: ["DELETE", "HEAD"])
    func bodylessMethodsSendNoBody(method: String) async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(status: 204) }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(method: method, url: server.baseURL + "/items/{id}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let output = try await tool.call(["id": "9"])
                #expect(!output.isError)
                let request = try #require(server.requests.first)
                #expect(request.method == method)
                #expect(request.body.isEmpty)
                #expect(request.header("content-type") == nil)
            }
        }
    }

    @Test func aHeadResponseMayAnnounceABodyLargerThanTheCap() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(headers: [("Content-Length", "99999999")]) }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(method: "HEAD", url: server.baseURL + "/big")
                let tool = HTTPTool(
                    config: config, http: http, client: client, environment: [:], credentialsDirectory: nil,
                    maxResponseBytes: 1000)
                let output = try await tool.call([:])
                #expect(output == ToolOutput(text: "HTTP 200, empty body"))
            }
        }
    }

    // MARK: Response

    @Test func aJSONObjectBecomesStructuredContent() async throws {
        try await TestHTTPServer.with({ _ in .json(#" {"temp": 21.5, "city": "Lyon"}"#) }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/w")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let output = try await tool.call([:])
                #expect(output.structuredContent == ["temp": 21.5, "city": "Lyon"])
                #expect(output.text == #"{"temp":21.5,"city":"Lyon"}"#)
                #expect(!output.isError)
            }
        }
    }

    @Test func otherBodiesAreText() async throws {
        let bodies = ["[1,2,3]", "plain words", "{not json"]
        for body in bodies {
            try await TestHTTPServer.with({ _ in TestHTTPResponse(text: body) }) { server in
                try await withHTTPClient { client in
                    let (config, http) = httpToolConfig(url: server.baseURL + "/w")
                    let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                    let output = try await tool.call([:])
                    #expect(output == ToolOutput(text: body))
                }
            }
        }
    }

    @Test func notFoundIsAnErrorResultNotAThrow() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(status: 404, text: "no such\ncity:   Atlantis") }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/w/{city}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let output = try await tool.call(["city": "Atlantis"])
                #expect(output == .failure("HTTP 404: no such city: Atlantis"))
            }
        }
    }

    @Test func errorSnippetsAreShortAndEmptyBodiesShowTheReason() async throws {
        let long = String(repeating: "x", count: 5000)
        try await TestHTTPServer.with({ request in
            request.uri == "/long" ? TestHTTPResponse(status: 400, text: long) : TestHTTPResponse(status: 403)
        }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/{path}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let longOutput = try await tool.call(["path": "long"])
                #expect(longOutput.isError)
                #expect(longOutput.text == "HTTP 400: " + String(repeating: "x", count: 200) + "…")
                let empty = try await tool.call(["path": "empty"])
                #expect(empty == .failure("HTTP 403: Forbidden"))
            }
        }
    }

    @Test(arguments: [500, 502, 503, 504, 408])
    func serverErrorsThrowARetryableFailure(status: Int) async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(status: status, text: "try later") }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/w")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let failure = try #require(await httpToolFailure { try await tool.call([:]) })
                #expect(failure.retryable)
                #expect(failure.message == "HTTP \(status): try later")
                #expect(failure.retryAfter == nil)
            }
        }
    }

    @Test func tooManyRequestsCarriesRetryAfter() async throws {
        try await TestHTTPServer.with({ request in
            request.uri == "/seconds"
                ? TestHTTPResponse(status: 429, headers: [("Retry-After", "2")], text: "slow down")
                : TestHTTPResponse(status: 503, headers: [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")])
        }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/{kind}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let failure = try #require(await httpToolFailure { try await tool.call(["kind": "seconds"]) })
                #expect(failure.retryable)
                #expect(failure.retryAfter == .seconds(2))
                #expect(failure.message == "HTTP 429: slow down")
                // A date in the past asks for no wait at all.
                let dated = try #require(await httpToolFailure { try await tool.call(["kind": "date"]) })
                #expect(dated.retryAfter == .zero)
                #expect(dated.message == "HTTP 503: Service Unavailable")
            }
        }
    }

    @Test func retryAfterForms() {
        let now: Int64 = 1_445_412_480  // 2015-10-21 07:28:00 UTC
        #expect(HTTPRetryAfter.parse("120", now: now) == .seconds(120))
        #expect(HTTPRetryAfter.parse(" 0 ", now: now) == .zero)
        #expect(HTTPRetryAfter.parse("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        #expect(HTTPRetryAfter.parse("Wednesday, 21-Oct-15 07:29:00 GMT", now: now) == .seconds(60))
        #expect(HTTPRetryAfter.parse("Wed Oct 21 07:28:05 2015", now: now) == .seconds(5))
        #expect(HTTPRetryAfter.parse("Thu, 01 Jan 1970 00:00:00 GMT", now: now) == .zero)
        #expect(HTTPRetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: 0) == .seconds(784_111_777))
        #expect(HTTPRetryAfter.parse("-5", now: now) == nil)
        #expect(HTTPRetryAfter.parse("soon", now: now) == nil)
        #expect(HTTPRetryAfter.parse("", now: now) == nil)
        #expect(HTTPRetryAfter.parse("Wed, 21 Foo 2015 07:28:30 GMT", now: now) == nil)
    }

    @Test func connectionRefusedIsARetryableFailure() async throws {
        let port = try await closedLocalPort()
        var slowConnect = ToolformerConfig.HTTP()
        slowConnect.connectTimeoutMs = 30_000
        try await withHTTPClient(slowConnect) { client in
            let (config, http) = httpToolConfig(url: "http://127.0.0.1:\(port)/w")
            let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
            let started = ContinuousClock.now
            let failure = try #require(await httpToolFailure { try await tool.call([:]) })
            #expect(failure.retryable)
            #expect(failure.message.contains("connection refused"), "\(failure.message)")
            // Refused at once, not after the 30 s connect timeout: the orchestrator owns the
            // retries. (Milliseconds alone; the bound leaves room for a loaded machine.)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test(arguments: [false, true])
    func anOversizedBodyIsAnErrorResult(chunked: Bool) async throws {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 5000)
        let headers: [(String, String)] = chunked ? [("Transfer-Encoding", "chunked")] : []
        try await TestHTTPServer.with({ request in
            TestHTTPResponse(headers: headers, body: request.uri == "/small" ? Array(body.prefix(1000)) : body)
        }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/{size}")
                let tool = HTTPTool(
                    config: config, http: http, client: client, environment: [:], credentialsDirectory: nil,
                    maxResponseBytes: 1000)
                let output = try await tool.call(["size": "big"])
                #expect(output == .failure("response body exceeds 1000 bytes"))
                let exact = try await tool.call(["size": "small"])
                #expect(exact == ToolOutput(text: String(repeating: "a", count: 1000)))
            }
        }
    }

    @Test func cancellingTheCallAbortsTheRequest() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "late", delay: .seconds(30)) }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/slow")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                let call = Task { try await tool.call([:]) }
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

    @Test func secretHeaderValuesNeverAppearInOutputsErrorsOrLogs() async throws {
        let token = "sk-live-9f8e7d6c5b4a"
        let credential = "cred-0a1b2c3d4e"
        let directory = try makeHTTPTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (credential + "\n").write(toFile: directory + "/api", atomically: true, encoding: .utf8)
        let logs = HTTPTestLogs()
        // A server that echoes the request's headers back in every kind of answer.
        try await TestHTTPServer.with({ request in
            let echo = request.headers.map { "\($0.0): \($0.1)" }.joined(separator: "\n")
            switch request.uri {
            case "/ok": return TestHTTPResponse(text: echo)
            case "/json":
                return .json(JSONWriter.string(.object(JSONObject(request.headers.map { ($0.0, .string($0.1)) }))))
            case "/denied": return TestHTTPResponse(status: 401, text: echo)
            default: return TestHTTPResponse(status: 503, text: echo)
            }
        }) { server in
            try await withHTTPClient(logger: logs.logger) { client in
                let (config, http) = httpToolConfig(
                    url: server.baseURL + "/{path}",
                    headers: ["Authorization": "Bearer ${TOKEN}", "X-Api-Key": "${credential:api}"])
                let tool = HTTPTool(
                    config: config, http: http, client: client, environment: ["TOKEN": token],
                    credentialsDirectory: directory)
                var texts: [String] = []
                for path in ["ok", "json", "denied"] {
                    let output = try await tool.call(["path": .string(path)])
                    texts.append(output.text)
                    texts.append(output.structuredContent?.description ?? "")
                }
                let failure = try #require(await httpToolFailure { try await tool.call(["path": "unavailable"]) })
                texts.append(failure.message)
                texts.append("\(failure)")
                // The headers did go out, so the echo had something to leak.
                #expect(server.requests.allSatisfy { $0.header("authorization") == "Bearer " + token })
                #expect(texts.contains { $0.contains("[REDACTED]") })
                for text in texts + logs.all {
                    #expect(!text.contains(token), "\(text)")
                    #expect(!text.contains(credential), "\(text)")
                }
            }
        }
    }

    @Test func redirectsKeepSecretsWithinTheOrigin() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "elsewhere") }) { other in
            try await TestHTTPServer.with({ request in
                switch request.uri {
                case "/same": TestHTTPResponse(status: 302, headers: [("Location", "/landed")])
                case "/away": TestHTTPResponse(status: 307, headers: [("Location", other.baseURL + "/landed")])
                default: TestHTTPResponse(text: "landed")
                }
            }) { server in
                try await withHTTPClient { client in
                    let (config, http) = httpToolConfig(
                        url: server.baseURL + "/{path}",
                        headers: ["X-Custom": "${TOKEN}", "Authorization": "Bearer ${TOKEN}", "Accept": "text/plain"])
                    let tool = HTTPTool(
                        config: config, http: http, client: client, environment: ["TOKEN": "tok-abcdef"],
                        credentialsDirectory: nil)
                    #expect(try await tool.call(["path": "same"]) == ToolOutput(text: "landed"))
                    let landed = try #require(server.requests.last)
                    #expect(landed.uri == "/landed")
                    #expect(landed.header("x-custom") == "tok-abcdef")

                    #expect(try await tool.call(["path": "away"]) == ToolOutput(text: "elsewhere"))
                    let away = try #require(other.requests.last)
                    #expect(away.header("x-custom") == nil)
                    #expect(away.header("authorization") == nil)
                    #expect(away.header("accept") == "text/plain")
                }
            }
        }
    }

    // MARK: Definition

    @Test func definitionListsPlaceholdersUnlessASchemaIsConfigured() async throws {
        try await withHTTPClient { client in
            let (config, http) = httpToolConfig(method: "post", url: "https://api.example.com/{city}/{day}?q={city}")
            let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
            #expect(tool.definition.name == "web")
            #expect(tool.definition.description == "Calls POST https://api.example.com/{city}/{day}?q={city}.")
            #expect(
                tool.definition.inputSchema == [
                    "type": "object",
                    "properties": ["city": ["type": ["string", "number"]], "day": ["type": ["string", "number"]]],
                    "required": ["city", "day"],
                ])

            var (custom, customHTTP) = httpToolConfig(url: "https://api.example.com/{id}", inputSchema: #"{"type":"object","properties":{"id":{"type":"integer"}}}"#)
            custom.description = "Looks things up."
            customHTTP.method = "GET"
            let configured = HTTPTool(config: custom, http: customHTTP, client: client, environment: [:], credentialsDirectory: nil)
            #expect(configured.definition.description == "Looks things up.")
            #expect(configured.definition.inputSchema == ["type": "object", "properties": ["id": ["type": "integer"]]])

            let (plain, plainHTTP) = httpToolConfig(url: "https://api.example.com/status")
            let noPlaceholders = HTTPTool(config: plain, http: plainHTTP, client: client, environment: [:], credentialsDirectory: nil)
            #expect(noPlaceholders.definition.inputSchema == ["type": "object"])
        }
    }

    @Test func urlTemplateParsing() throws {
        let template = HTTPURLTemplate("https://x/{a}/{}/{b c}/{a}{d.e-f_g}")
        #expect(template.placeholders == ["a", "d.e-f_g"])
        #expect(try template.expand(["a": "1", "d.e-f_g": "2"]).get() == "https://x/1/{}/{b c}/12")
        #expect(HTTPURLTemplate.percentEncode("AZaz09-._~ /?&=#%+é") == "AZaz09-._~%20%2F%3F%26%3D%23%25%2B%C3%A9")
    }

    // MARK: http_get

    @Test func httpGetFetchesAURLAndFollowsRedirects() async throws {
        try await TestHTTPServer.with({ request in
            switch request.uri {
            case "/start": TestHTTPResponse(status: 301, headers: [("Location", "/data")])
            case "/data": .json(#"{"n":1}"#)
            case "/loop": TestHTTPResponse(status: 302, headers: [("Location", "/loop")])
            case "/gone": TestHTTPResponse(status: 410, text: "gone for good")
            default: TestHTTPResponse(status: 503, headers: [("Retry-After", "3")])
            }
        }) { server in
            try await withHTTPClient { client in
                let tool = HTTPGetTool(config: ToolConfig(name: "http_get", kind: .builtin(.httpGet)), client: client)
                #expect(tool.definition.name == "http_get")
                #expect(tool.definition.inputSchema["required"] == ["url"])
                #expect(try await tool.call(["url": .string(server.baseURL + "/start")]) == .json(["n": 1]))
                #expect(server.requests.map(\.method) == ["GET", "GET"])
                #expect(try await tool.call(["url": .string(server.baseURL + "/loop")]) == .failure("more than 5 redirects"))
                #expect(try await tool.call(["url": .string(server.baseURL + "/gone")]) == .failure("HTTP 410: gone for good"))
                let failure = try #require(await httpToolFailure { try await tool.call(["url": .string(server.baseURL + "/busy")]) })
                #expect(failure.retryable && failure.retryAfter == .seconds(3))
            }
        }
    }

    @Test func httpGetRefusesOtherSchemesAndMissingURLs() async throws {
        try await withHTTPClient { client in
            let tool = HTTPGetTool(config: ToolConfig(name: "http_get", kind: .builtin(.httpGet)), client: client)
            for arguments: JSONObject in [["url": "file:///etc/passwd"], ["url": "ftp://127.0.0.1/x"], [:], ["url": 5]] {
                let output = try await tool.call(arguments)
                #expect(output.isError, "\(arguments)")
            }
        }
    }

    @Test func httpGetCapsTheBody() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(headers: [("Transfer-Encoding", "chunked")], text: String(repeating: "z", count: 10_000)) }) { server in
            try await withHTTPClient { client in
                let tool = HTTPGetTool(
                    config: ToolConfig(name: "http_get", kind: .builtin(.httpGet)), client: client, maxResponseBytes: 4096)
                let output = try await tool.call(["url": .string(server.baseURL)])
                #expect(output == .failure("response body exceeds 4096 bytes"))
            }
        }
    }
}
