import AsyncHTTPClient
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import ToolformerCore
import ToolformerHTTP
import ToolformerTesting
import ToolformerTools

@Suite(.timeLimit(.minutes(1)))
struct SharedHTTPClientTests {
    @Test func twentySequentialCallsShareOneConnection() async throws {
        try await TestHTTPServer.with({ request in .json(#"{"uri":"\#(request.uri)"}"#) }) { server in
            try await withHTTPClient { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/n/{i}")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                for i in 0..<20 {
                    let output = try await tool.call(["i": .int(Int64(i))])
                    #expect(output.structuredContent == ["uri": .string("/n/\(i)")])
                }
                #expect(server.requests.count == 20)
                #expect(server.acceptedConnections == 1)
                #expect(server.openConnections == 1)
                let statistics = client.statistics()
                #expect(statistics.started == 20 && statistics.responded == 20 && statistics.inFlight == 0)
            }
        }
    }

    @Test func concurrentRequestsStayWithinThePerHostLimit() async throws {
        var configuration = ToolformerConfig.HTTP()
        configuration.maxConnectionsPerHost = 2
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok", delay: .milliseconds(100)) }) { server in
            try await withHTTPClient(configuration) { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/x")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                try await withThrowingTaskGroup(of: ToolOutput.self) { group in
                    for _ in 0..<8 { group.addTask { try await tool.call([:]) } }
                    for try await output in group { #expect(output == ToolOutput(text: "ok")) }
                }
                #expect(server.requests.count == 8)
                #expect(server.acceptedConnections == 2)
            }
        }
    }

    @Test func idleConnectionsCloseAfterTheIdleTimeout() async throws {
        var configuration = ToolformerConfig.HTTP()
        configuration.idleTimeoutMs = 100
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok") }) { server in
            try await withHTTPClient(configuration) { client in
                let (config, http) = httpToolConfig(url: server.baseURL + "/x")
                let tool = HTTPTool(config: config, http: http, client: client, environment: [:], credentialsDirectory: nil)
                _ = try await tool.call([:])
                #expect(await server.waitUntil(timeout: .seconds(15)) { $0.openConnections == 0 })
                _ = try await tool.call([:])
                #expect(server.acceptedConnections == 2)
            }
        }
    }

    @Test func runsAndShutsDownInAServiceGroup() async throws {
        try await TestHTTPServer.with({ _ in TestHTTPResponse(text: "ok") }) { server in
            let logs = HTTPTestLogs()
            let client = SharedHTTPClient(
                configuration: ToolformerConfig.HTTP(), eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                logger: logs.logger)
            #expect(client.description == "SharedHTTPClient")
            let group = ServiceGroup(services: [client], logger: httpTestQuietLogger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let tool = HTTPGetTool(config: ToolConfig(name: "http_get", kind: .builtin(.httpGet)), client: client)
                #expect(try await tool.call(["url": .string(server.baseURL + "/a")]) == ToolOutput(text: "ok"))
                #expect(server.openConnections == 1)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            // The pool's connection is closed and the client refuses new work.
            #expect(await server.waitUntil(timeout: .seconds(15)) { $0.openConnections == 0 })
            await #expect(throws: HTTPClientError.alreadyShutdown) {
                _ = try await client.execute(HTTPClientRequest(url: server.baseURL + "/b"), deadline: .now() + .seconds(5))
            }
            let tool = HTTPGetTool(config: ToolConfig(name: "http_get", kind: .builtin(.httpGet)), client: client)
            #expect(try await tool.call(["url": .string(server.baseURL + "/c")]) == .failure("the HTTP client is shut down"))
            // A second shutdown is harmless.
            try await client.shutdown()
        }
    }

    @Test func cancellingTheServiceGroupAlsoShutsTheClientDown() async throws {
        let client = SharedHTTPClient(
            configuration: ToolformerConfig.HTTP(), eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: httpTestQuietLogger)
        let group = ServiceGroup(services: [client], logger: httpTestQuietLogger)
        let run = Task { try await group.run() }
        try await Task.sleep(for: .milliseconds(50))
        run.cancel()
        _ = await run.result
        await #expect(throws: HTTPClientError.alreadyShutdown) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:1/"), deadline: .now() + .seconds(1))
        }
    }

    @Test func fetchReportsTransportFailuresSafely() async throws {
        let port = try await closedLocalPort()
        try await withHTTPClient { client in
            do {
                _ = try await client.fetch(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/"), deadline: .now() + .seconds(5), maxBodyBytes: 10)
                Issue.record("expected a connection failure")
            } catch {
                let failure = HTTPTransportFailure(error)
                #expect(failure.isTransient)
                #expect(failure.message == "connection refused")
            }
            let statistics = client.statistics()
            #expect(statistics.started == 1 && statistics.failed == 1 && statistics.inFlight == 0)
        }
    }

    @Test func blockingServerForSynchronousCode() async throws {
        let server = try TestHTTPServer.startBlocking { request in TestHTTPResponse(text: "hello " + request.uri) }
        #expect(server.baseURL == "http://127.0.0.1:\(server.port)")
        try await withHTTPClient { client in
            let tool = HTTPGetTool(config: ToolConfig(name: "http_get", kind: .builtin(.httpGet)), client: client)
            let output = try await tool.call(["url": .string(server.baseURL + "/there")])
            #expect(output == ToolOutput(text: "hello /there"))
        }
        try server.shutdownBlocking()
        try server.shutdownBlocking()
    }
}
