public import Logging
public import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
public import ServiceLifecycle
public import ToolformerCore
public import ToolformerProtocol

/// `GET /metrics` over HTTP, when `[metrics] listen` is set: the same exposition as
/// `daemon/metrics`, `Content-Type: text/plain; version=0.0.4`. Other paths get 404, other
/// methods on `/metrics` 405. Ends on graceful shutdown, closing whatever scrape is open.
///
/// It binds exactly the configured address and nothing else. It is meant for a scraper on the same
/// host (`127.0.0.1:9464`): there is no TLS and no authentication, and the exposition names every
/// tool, provider and rate-limit bucket, so a non-loopback address is the operator's explicit
/// choice, never a default.
public struct MetricsHTTPService: Service, CustomStringConvertible {
    private let endpoint: ToolformerConfig.Endpoint
    private let metrics: PrometheusMetrics
    private let status: @Sendable () -> JSONObject
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let maxConnections: Int
    private let onListening: @Sendable (_ port: Int) -> Void

    static let contentType = "text/plain; version=0.0.4"
    /// Connections served at once, by default: a scraper or two and an operator's curl need far
    /// fewer; the bound keeps a local process from holding descriptors the socket server needs.
    public static let defaultMaxConnections = 16

    /// `onListening` is told the bound port once the socket listens (the real one when
    /// `endpoint.port` is 0, as tests use). A connection past `maxConnections` open at once is
    /// closed unanswered.
    public init(
        endpoint: ToolformerConfig.Endpoint, metrics: PrometheusMetrics, status: @escaping @Sendable () -> JSONObject,
        eventLoopGroup: any EventLoopGroup, logger: Logger, maxConnections: Int = Self.defaultMaxConnections,
        onListening: @escaping @Sendable (_ port: Int) -> Void = { _ in }
    ) {
        self.endpoint = endpoint
        self.metrics = metrics
        self.status = status
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.maxConnections = maxConnections
        self.onListening = onListening
    }

    public var description: String { "MetricsHTTPService(\(endpoint.host):\(endpoint.port))" }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public func run() async throws {
        let server = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // NIO's decoder bounds the request line and headers; bodies are read and dropped.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? endpoint.port
        logger.info("metrics listening", metadata: ["metrics.host": "\(endpoint.host)", "metrics.port": "\(port)"])
        onListening(port)

        let render: @Sendable () -> String = { [metrics, status] in metrics.exposition(status: status()) }
        let logger = logger
        let open = OpenConnections()
        let maxConnections = maxConnections
        // Both loops end on graceful shutdown: the accept loop, and each connection's (a scraper
        // keeps its connection open between scrapes, which must not hold the shutdown up).
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound.cancelOnGracefulShutdown() {
                    guard open.count.add(1, ordering: .relaxed).newValue <= maxConnections else {
                        open.count.subtract(1, ordering: .relaxed)
                        logger.notice("metrics connection refused: too many open", metadata: [
                            "metrics.max_connections": "\(maxConnections)",
                        ])
                        try? await connection.executeThenClose { _, _ in }
                        continue
                    }
                    group.addTask {
                        defer { open.count.subtract(1, ordering: .relaxed) }
                        await Self.serve(connection, render: render, logger: logger)
                    }
                }
            }
        }
        logger.info("metrics stopped")
    }

    /// One connection, request after request; never throws out, so one bad client cannot end the
    /// service.
    private static func serve(_ connection: Connection, render: @Sendable () -> String, logger: Logger) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound.cancelOnGracefulShutdown() {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                    case .body:
                        continue
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let (status, headers, body) = respond(to: request, render: render)
                        var responseHeaders = HTTPHeaders(headers)
                        responseHeaders.add(name: "Content-Length", value: String(body.utf8.count))
                        if !request.isKeepAlive { responseHeaders.add(name: "Connection", value: "close") }
                        let buffer = connection.channel.allocator.buffer(string: body)
                        try await outbound.write(contentsOf: [
                            .head(HTTPResponseHead(version: request.version, status: status, headers: responseHeaders)),
                            .body(.byteBuffer(buffer)),
                            .end(nil),
                        ])
                        if !request.isKeepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("metrics connection ended", metadata: ["error": "\(error)"])
        }
    }

    static func respond(
        to request: HTTPRequestHead, render: () -> String
    ) -> (HTTPResponseStatus, [(String, String)], String) {
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else {
            return (.notFound, [("Content-Type", "text/plain; charset=utf-8")], "Not found; try /metrics\n")
        }
        guard request.method == .GET else {
            return (.methodNotAllowed, [("Content-Type", "text/plain; charset=utf-8"), ("Allow", "GET")],
                    "Method not allowed; /metrics takes GET\n")
        }
        return (.ok, [("Content-Type", contentType)], render())
    }
}

/// Connections open on the listener, shared by the accept loop and the connection tasks.
private final class OpenConnections: Sendable {
    let count = Atomic<Int>(0)
}
