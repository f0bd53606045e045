import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import ToolformerCore
import ToolformerMetrics
import ToolformerProtocol

/// The `/metrics` listener on 127.0.0.1 with an ephemeral port, talked to with raw HTTP/1.1 so
/// the test sees exactly what a scraper would.
@Suite struct MetricsHTTPServiceTests {
    static let logger = Logger(label: "metrics-test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs the service in a ServiceGroup, hands `body` its port, then shuts the group down
    /// gracefully and waits for it to end.
    private func withService(
        metrics: PrometheusMetrics = PrometheusMetrics(methods: knownMethods),
        maxConnections: Int = MetricsHTTPService.defaultMaxConnections,
        _ body: (Int, ServiceGroup) async throws -> Void
    ) async throws {
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let service = MetricsHTTPService(
            endpoint: .init(host: "127.0.0.1", port: 0), metrics: metrics, status: { sampleStatus() },
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Self.logger, maxConnections: maxConnections,
            onListening: { port in portSink.yield(port) })
        let group = ServiceGroup(services: [service], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(port > 0)
            try await body(port, group)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test(.timeLimit(.minutes(1))) func servesMetrics() async throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        metrics.requestFinished(method: "ping", code: 0, duration: .milliseconds(1))
        try await withService(metrics: metrics) { port, _ in
            let response = try await HTTPExchange.send(
                "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", port: port)
            #expect(response.statusLine == "HTTP/1.1 200 OK")
            #expect(response.header("Content-Type") == "text/plain; version=0.0.4")
            #expect(response.header("Content-Length") == String(response.body.utf8.count))
            let parsed = try parse(response.body)
            #expect(parsed.value("toolformer_requests_total", ["method": "ping", "code": "0"]) == 1)
            #expect(parsed.value("toolformer_cache_hits_total") == 7)

            // A query string is still /metrics.
            let query = try await HTTPExchange.send(
                "GET /metrics?name[]=x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", port: port)
            #expect(query.statusLine == "HTTP/1.1 200 OK")
        }
    }

    @Test(.timeLimit(.minutes(1))) func otherPathsAre404AndOtherMethods405() async throws {
        try await withService { port, _ in
            let missing = try await HTTPExchange.send(
                "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", port: port)
            #expect(missing.statusLine == "HTTP/1.1 404 Not Found")
            let root = try await HTTPExchange.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", port: port)
            #expect(root.statusLine == "HTTP/1.1 404 Not Found")

            let post = try await HTTPExchange.send(
                "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", port: port)
            #expect(post.statusLine == "HTTP/1.1 405 Method Not Allowed")
            #expect(post.header("Allow") == "GET")
            let delete = try await HTTPExchange.send(
                "DELETE /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", port: port)
            #expect(delete.statusLine == "HTTP/1.1 405 Method Not Allowed")
        }
    }

    @Test(.timeLimit(.minutes(1))) func keepAliveServesRequestAfterRequest() async throws {
        try await withService { port, _ in
            let twoRequests = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let raw = try await HTTPExchange.sendRaw(twoRequests, port: port)
            #expect(raw.components(separatedBy: "HTTP/1.1 200 OK\r\n").count == 3, "\(raw.prefix(300))")
        }
    }

    @Test(.timeLimit(.minutes(1))) func connectionsPastTheCapAreClosedUnanswered() async throws {
        try await withService(maxConnections: 2) { port, _ in
            // Each held connection is answered once before the next opens, so the listener has
            // counted it: connections reach the accept loop from several event loops, in no set order.
            let first = try await HTTPExchange.connect(port: port)
            try await first.executeThenClose { firstIn, firstOut in
                let firstServed = try await HTTPExchange.exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", firstIn, firstOut)
                #expect(firstServed)
                let second = try await HTTPExchange.connect(port: port)
                try await second.executeThenClose { secondIn, secondOut in
                    let secondServed = try await HTTPExchange.exchange(
                        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", secondIn, secondOut)
                    #expect(secondServed)
                    // One too many: closed at once, nothing comes back (a failed write is as good).
                    let refused = (try? await HTTPExchange.sendRaw(
                        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", port: port)) ?? ""
                    #expect(refused.isEmpty)
                }
            }

            // Once they are gone, scrapes are served again.
            var served = false
            for _ in 0..<200 where !served {
                let response = try? await HTTPExchange.send(
                    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", port: port)
                served = response?.statusLine == "HTTP/1.1 200 OK"
                if !served { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(served)
        }
    }

    @Test(.timeLimit(.minutes(1))) func stopsOnGracefulShutdownEvenWithAScraperConnected() async throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let service = MetricsHTTPService(
            endpoint: .init(host: "127.0.0.1", port: 0), metrics: metrics, status: { [:] },
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Self.logger,
            onListening: { port in portSink.yield(port) })
        let group = ServiceGroup(services: [service], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())

            // A scraper that keeps its connection open between scrapes.
            let idle = try await HTTPExchange.connect(port: port)
            try await idle.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"))
                var received = ""
                var iterator = inbound.makeAsyncIterator()
                while !received.contains("toolformer_build_info") {
                    guard let chunk = try await iterator.next() else { break }
                    received += String(buffer: chunk)
                }
                #expect(received.hasPrefix("HTTP/1.1 200 OK"))

                let started = ContinuousClock.now
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                #expect(ContinuousClock.now - started < .seconds(5))

                // The server closed the kept-alive connection.
                while let _ = try await iterator.next() {}
            }

            // And it no longer listens.
            await #expect(throws: (any Error).self) {
                _ = try await HTTPExchange.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", port: port)
            }
        }
    }
}

/// A raw HTTP/1.1 exchange over NIO: writes the bytes given, reads until the server closes.
enum HTTPExchange {
    struct Response {
        var statusLine: String
        var headers: [(String, String)]
        var body: String

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    static func connect(port: Int) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Writes `request` on an open connection and reads one whole response; whether it was a 200.
    static func exchange(
        _ request: String, _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws -> Bool {
        try await outbound.write(ByteBuffer(string: request))
        var received = ""
        for try await chunk in inbound {
            received += String(buffer: chunk)
            if received.contains("toolformer_build_info{") && received.hasSuffix("\n") { break }
        }
        return received.hasPrefix("HTTP/1.1 200 OK")
    }

    static func sendRaw(_ request: String, port: Int) async throws -> String {
        let channel = try await connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = ""
            for try await chunk in inbound { received += String(buffer: chunk) }
            return received
        }
    }

    static func send(_ request: String, port: Int) async throws -> Response {
        let raw = try await sendRaw(request, port: port)
        guard let split = raw.range(of: "\r\n\r\n") else { return Response(statusLine: raw, headers: [], body: "") }
        let head = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let headers = head.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Response(statusLine: head.first ?? "", headers: headers, body: String(raw[split.upperBound...]))
    }
}
