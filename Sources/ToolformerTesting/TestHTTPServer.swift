public import NIOCore
import NIOHTTP1
import NIOPosix
internal import Synchronization

/// A request as ``TestHTTPServer`` received it.
public struct RecordedRequest: Sendable {
    public var method: String
    /// The request target as sent, still percent-encoded: `/weather/S%C3%A3o?x=1`.
    public var uri: String
    /// In the order sent, names as the client spelled them.
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String, uri: String, headers: [(String, String)], body: [UInt8]) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    /// The first value of `name`, compared without regard to case.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.0.lowercased() == lowered }?.1
    }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What ``TestHTTPServer``'s handler answers.
///
/// `Content-Length` is added unless the headers set it or `Transfer-Encoding` (then the body goes
/// out chunked, in 1 KiB pieces). A `Connection: close` header closes the connection after the
/// response.
public struct TestHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// How long to wait before answering; the wait ends early when the client goes away.
    public var delay: Duration?

    public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8] = [], delay: Duration? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
    }

    public init(status: Int = 200, headers: [(String, String)] = [], text: String, delay: Duration? = nil) {
        self.init(status: status, headers: headers, body: Array(text.utf8), delay: delay)
    }

    /// `text` with `Content-Type: application/json`.
    public static func json(
        _ text: String, status: Int = 200, headers: [(String, String)] = [], delay: Duration? = nil
    ) -> TestHTTPResponse {
        TestHTTPResponse(
            status: status, headers: [("Content-Type", "application/json")] + headers, text: text, delay: delay)
    }
}

/// A real HTTP/1.1 server on SwiftNIO, bound to 127.0.0.1 on an ephemeral port, for tests.
///
/// Every request is recorded (``requests``) and answered by the test's handler. Connections are
/// kept alive unless the client or the response says otherwise, so pooling is observable through
/// ``acceptedConnections``; ``closedBeforeResponse`` counts connections the client closed while a
/// request was still unanswered, which is how a test sees a cancelled request aborted.
public final class TestHTTPServer: Sendable {
    public typealias Handler = @Sendable (RecordedRequest) async -> TestHTTPResponse

    /// The port bound on 127.0.0.1.
    public let port: Int
    private let serverChannel: any Channel
    private let shared: Shared
    private let ownedGroup: MultiThreadedEventLoopGroup?

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Every complete request so far, oldest first.
    public var requests: [RecordedRequest] { shared.state.withLock { $0.requests } }
    /// TCP connections accepted so far.
    public var acceptedConnections: Int { shared.state.withLock { $0.acceptedConnections } }
    /// TCP connections open now.
    public var openConnections: Int { shared.state.withLock { $0.channels.count } }
    /// Connections that closed while a request on them was unanswered (or only partly received).
    public var closedBeforeResponse: Int { shared.state.withLock { $0.closedBeforeResponse } }

    /// Starts a server on `eventLoopGroup` (NIO's shared singleton when `nil`).
    public convenience init(eventLoopGroup: (any EventLoopGroup)? = nil, handler: @escaping Handler) async throws {
        let shared = Shared(handler: handler)
        let group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let channel = try await Self.bootstrap(group: group, shared: shared).bind(host: "127.0.0.1", port: 0).get()
        self.init(channel: channel, shared: shared, ownedGroup: nil)
    }

    /// For blocking test code: starts a server on an event loop group of its own, which
    /// ``shutdown()`` or ``shutdownBlocking()`` ends.
    public static func startBlocking(handler: @escaping Handler) throws -> TestHTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = Shared(handler: handler)
        do {
            let channel = try bootstrap(group: group, shared: shared).bind(host: "127.0.0.1", port: 0).wait()
            return TestHTTPServer(channel: channel, shared: shared, ownedGroup: group)
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    private init(channel: any Channel, shared: Shared, ownedGroup: MultiThreadedEventLoopGroup?) {
        serverChannel = channel
        self.shared = shared
        self.ownedGroup = ownedGroup
        port = channel.localAddress?.port ?? 0
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    public func waitUntil(
        timeout: Duration = .seconds(10), _ condition: @Sendable (TestHTTPServer) -> Bool
    ) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(self)
    }

    /// Stops listening, closes every connection (ending handlers' waits) and, for a server from
    /// ``startBlocking(handler:)``, its event loop group. Later calls do nothing.
    public func shutdown() async throws {
        guard let channels = shared.takeChannelsForShutdown() else { return }
        try? await serverChannel.close()
        for channel in channels { try? await channel.close() }
        try await ownedGroup?.shutdownGracefully()
    }

    /// ``shutdown()`` for blocking code; never call it on an event loop.
    public func shutdownBlocking() throws {
        guard let channels = shared.takeChannelsForShutdown() else { return }
        try? serverChannel.close().wait()
        for channel in channels { try? channel.close().wait() }
        try ownedGroup?.syncShutdownGracefully()
    }

    private static func bootstrap(group: any EventLoopGroup, shared: Shared) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                shared.accepted(channel)
                channel.closeFuture.whenComplete { _ in shared.closed(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(TestHTTPConnectionHandler(shared: shared))
                }
            }
    }

    /// What the server and its connection handlers share.
    final class Shared: Sendable {
        struct State {
            var requests: [RecordedRequest] = []
            var acceptedConnections = 0
            var closedBeforeResponse = 0
            var channels: [ObjectIdentifier: any Channel] = [:]
            var shutDown = false
        }

        let handler: Handler
        let state = Mutex(State())

        init(handler: @escaping Handler) { self.handler = handler }

        func accepted(_ channel: any Channel) {
            let refuse = state.withLock { state in
                guard !state.shutDown else { return true }
                state.acceptedConnections += 1
                state.channels[ObjectIdentifier(channel)] = channel
                return false
            }
            if refuse { channel.close(promise: nil) }
        }

        func closed(_ channel: any Channel) {
            _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
        }

        func record(_ request: RecordedRequest) { state.withLock { $0.requests.append(request) } }

        func abandoned() { state.withLock { $0.closedBeforeResponse += 1 } }

        /// The open connections, or `nil` when shutdown already began.
        func takeChannelsForShutdown() -> [any Channel]? {
            state.withLock { state in
                guard !state.shutDown else { return nil }
                state.shutDown = true
                return Array(state.channels.values)
            }
        }
    }
}

/// One connection: collects each request, runs the handler in a task, writes the answer. Requests
/// that arrive while one is being answered (pipelining) wait their turn.
private final class TestHTTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shared: TestHTTPServer.Shared
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var waiting: [(request: RecordedRequest, keepAlive: Bool)] = []
    private var answering: Task<Void, Never>?

    init(shared: TestHTTPServer.Shared) { self.shared = shared }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body += buffer.readableBytesView
        case .end:
            guard let head else { return }
            self.head = nil
            let request = RecordedRequest(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body)
            body = []
            shared.record(request)
            waiting.append((request, head.isKeepAlive))
            answerNext(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if answering != nil || head != nil || !waiting.isEmpty { shared.abandoned() }
        answering?.cancel()
        answering = nil
        waiting = []
        context.fireChannelInactive()
    }

    private func answerNext(context: ChannelHandlerContext) {
        guard answering == nil, !waiting.isEmpty else { return }
        let (request, keepAlive) = waiting.removeFirst()
        let handler = shared.handler
        let eventLoop = context.eventLoop
        let me = NIOLoopBound(self, eventLoop: eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: eventLoop)
        // Not on the cooperative pool: blocking test code may hold all of its threads.
        answering = Task(executorPreference: ThreadTaskExecutor.testServers) {
            let response = await handler(request)
            if let delay = response.delay { try? await Task.sleep(for: delay) }
            eventLoop.execute {
                me.value.write(response, keepAlive: keepAlive, context: boundContext.value)
            }
        }
    }

    private func write(_ response: TestHTTPResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        guard answering != nil, context.channel.isActive else { return }
        answering = nil
        var headers = HTTPHeaders(response.headers)
        let chunked = headers.contains(name: "transfer-encoding")
        if !chunked && !headers.contains(name: "content-length") {
            headers.add(name: "Content-Length", value: "\(response.body.count)")
        }
        let close = !keepAlive || headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        if close && !headers.contains(name: "connection") { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if chunked {
            var offset = 0
            while offset < response.body.count {
                let end = min(offset + 1024, response.body.count)
                let piece = context.channel.allocator.buffer(bytes: response.body[offset..<end])
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(piece))), promise: nil)
                offset = end
            }
        } else if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let channel = context.channel
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            written.whenComplete { _ in channel.close(promise: nil) }
        } else {
            answerNext(context: context)
        }
    }
}

extension TestHTTPServer {
    /// Runs `body` with a server answering by `handler`, shut down afterwards whatever happens.
    public static func with<T>(
        _ handler: @escaping Handler, _ body: (TestHTTPServer) async throws -> T
    ) async throws -> T {
        let server = try await TestHTTPServer(handler: handler)
        do {
            let result = try await body(server)
            try await server.shutdown()
            return result
        } catch {
            try? await server.shutdown()
            throw error
        }
    }
}
