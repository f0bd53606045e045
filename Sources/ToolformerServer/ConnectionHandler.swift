import CToolformerShims
import Logging
import NIOCore
import ToolformerCore
import ToolformerProtocol

#if canImport(Glibc)
import Glibc
#endif

/// What the server tells connections while it shuts down.
enum ServerEvent: Sendable {
    /// Drain time is up: cancel every request in flight; each answers -32006.
    case cancelInflight
    /// Close once every response is written.
    case closeWhenIdle
}

/// Why a request in flight was cancelled; it decides the answer.
enum CancelReason: Sendable {
    case client, disconnect, drain

    var error: ToolformerError? {
        switch self {
        case .client: .cancelled("cancelled by the client")
        case .drain: .shuttingDown("the daemon is shutting down; the request was cancelled")
        case .disconnect: nil
        }
    }
}

/// Everything connections share; `Sendable`, built once by the server.
final class ServerContext: Sendable {
    let methods: MethodTable
    let state: ServerState
    let logger: Logger
    let maxDepth: Int
    let metrics: any ToolformerMetrics

    init(methods: MethodTable, state: ServerState, logger: Logger, maxDepth: Int, metrics: any ToolformerMetrics) {
        self.methods = methods
        self.state = state
        self.logger = logger
        self.maxDepth = maxDepth
        self.metrics = metrics
    }
}

/// One client connection: parses lines, checks envelopes, runs methods, writes responses.
///
/// Lives on its channel's event loop. Cheap methods answer inline and are flushed once per read
/// burst, so pipelined requests cost one syscall per burst; slow ones run in a task per request
/// whose handle is kept by id, because `notifications/cancelled` must stop exactly that one.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = LineFrame
    typealias OutboundOut = ByteBuffer

    private struct Inflight {
        var task: Task<Void, Never>?
        var cancelReason: CancelReason?
        let method: String
        let ref: UInt64
        let started: ContinuousClock.Instant
    }

    private let shared: ServerContext
    private let limits: ServerLimits
    private let connectionID: UInt64
    private let parser: JSONParser
    private var peer = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)
    private var logger: Logger
    private var inflight: [RequestID: Inflight] = [:]
    private var needsFlush = false
    private var admitted = false
    private var closeWhenIdle = false
    private var channelContext: ChannelHandlerContext?
    /// Closes the connection if its client leaves the socket full this long (see
    /// `channelWritabilityChanged`).
    private var slowReaderTimer: Scheduled<Void>?

    init(shared: ServerContext, limits: ServerLimits) {
        self.shared = shared
        self.limits = limits
        connectionID = shared.state.makeConnectionID()
        parser = JSONParser(maxDepth: shared.maxDepth)
        logger = shared.logger
        logger[metadataKey: "connection.id"] = "\(connectionID)"
    }

    func handlerAdded(context: ChannelHandlerContext) { channelContext = context }

    /// The context holds this handler and this handler its context: let go when the pipeline
    /// does, or every connection would leak both (about 4 KiB with the JSON parser; the soak test
    /// found it).
    func handlerRemoved(context: ChannelHandlerContext) {
        channelContext = nil
        slowReaderTimer?.cancel()
        slowReaderTimer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = Self.peerCredentials(of: context.channel) ?? peer
        logger[metadataKey: "peer.uid"] = "\(peer.uid)"
        logger[metadataKey: "peer.pid"] = "\(peer.pid)"

        guard limits.access.mayConnect(peer) else {
            logger.notice("connection refused: peer may not connect")
            refuse(context: context, .forbidden("uid \(peer.uid) may not connect to this daemon"))
            return
        }
        switch shared.state.admitConnection(uid: peer.uid, max: limits.maxConnections, maxPerUid: limits.maxConnectionsPerUid) {
        case nil:
            break
        case .tooManyConnections?:
            logger.warning("connection refused: max_connections reached")
            refuse(context: context, .overloaded("too many connections (max_connections \(limits.maxConnections))", retryAfterMs: 1000))
            return
        case .tooManyForUid?:
            logger.warning("connection refused: max_connections_per_uid reached")
            refuse(context: context, .overloaded(
                "too many connections from uid \(peer.uid) (max_connections_per_uid \(limits.maxConnectionsPerUid))",
                retryAfterMs: 1000))
            return
        }
        admitted = true
        shared.state.register(connectionID, channel: context.channel, peer: peer)
        logger.debug("connection opened")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        slowReaderTimer?.cancel()
        slowReaderTimer = nil
        for id in Array(inflight.keys) { cancel(id, reason: .disconnect) }
        if admitted {
            shared.state.unregister(connectionID)
            logger.debug("connection closed")
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted else { return }
        switch unwrapInboundIn(data) {
        case .tooLong:
            write(MessageEncoder.error(id: nil, .lineTooLong(limit: limits.maxLineBytes)), context: context)
        case .line(let line):
            handleLine(line, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let event as ServerEvent:
            switch event {
            case .cancelInflight:
                for id in Array(inflight.keys) { cancel(id, reason: .drain) }
            case .closeWhenIdle:
                closeWhenIdle = true
                closeIfIdle(context: context)
            }
        case let event as ChannelEvent where event == .inputClosed:
            // The client half-closed: answer what is in flight, then close.
            closeWhenIdle = true
            closeIfIdle(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// A client that stops reading fills its socket, and the channel turns unwritable. The
    /// `BackPressureHandler` in front then stops reading its requests, so it cannot make the
    /// daemon queue more answers; if it still has not read after `slow_reader_timeout_ms`, the
    /// connection is closed (its requests cancelled as on a disconnect). Other connections never
    /// wait on it: each has its own buffers, and nothing here blocks the event loop.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            slowReaderTimer?.cancel()
            slowReaderTimer = nil
        } else if slowReaderTimer == nil && admitted {
            let timeout = limits.slowReaderTimeout
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let channel = context.channel
            slowReaderTimer = context.eventLoop.scheduleTask(in: .milliseconds(timeout.milliseconds)) {
                guard !channel.isWritable else { return }
                handler.value.dropSlowReader(channel)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    private func dropSlowReader(_ channel: any Channel) {
        slowReaderTimer = nil
        shared.state.slowReaderClosed()
        logger.warning("closing connection: the client left answers unread", metadata: [
            "slow_reader_timeout_ms": "\(limits.slowReaderTimeout.milliseconds)", "inflight": "\(inflight.count)",
        ])
        channel.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Requests

    private func handleLine(_ line: ByteBuffer, context: ChannelHandlerContext) {
        // nil for a blank line: nothing to answer.
        let parsed: Result<JSONValue, JSONParseError>? = line.withUnsafeReadableBytes { bytes in
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
            return Result { () throws(JSONParseError) in try parser.parse(bytes) }
        }
        let value: JSONValue
        switch parsed {
        case nil:
            return
        case .success(let parsed)?:
            value = parsed
        case .failure(let error)?:
            write(MessageEncoder.error(id: nil, .parseError("not valid JSON: \(error.message)")), context: context)
            return
        }

        switch IncomingMessage.decode(value) {
        case .failure(let envelope):
            if envelope.answerable { write(MessageEncoder.error(id: envelope.id, envelope.error), context: context) }
        case .success(.response):
            return
        case .success(.notification(let method, let params)):
            handleNotification(method, params)
        case .success(.request(let id, let method, let params)):
            handleRequest(id: id, method: method, params: params, context: context)
        }
    }

    private func handleNotification(_ method: String, _ params: JSONObject) {
        switch method {
        case "notifications/cancelled":
            guard let id = params["requestId"].flatMap(RequestID.init) else { return }
            cancel(id, reason: .client)
        default:
            // notifications/initialized and anything unknown: JSON-RPC never answers notifications.
            break
        }
    }

    private func handleRequest(id: RequestID, method: String, params: JSONObject, context: ChannelHandlerContext) {
        if inflight[id] != nil { return refuse(id, method, .duplicateID(id), context: context) }
        if shared.state.isDraining { return refuse(id, method, .shuttingDown(), context: context) }
        guard let handler = shared.methods.handler(for: method) else {
            return refuse(id, method, .methodNotFound(method), context: context)
        }
        if shared.methods.requiresAdmin(method) && !limits.access.isAdmin(peer) {
            return refuse(id, method, .forbidden("\(method) needs root or a uid or group in server.admin_uids / admin_groups"), context: context)
        }
        let progressToken: JSONValue?
        do throws(ToolformerError) {
            progressToken = try ProgressReporter.token(in: params)
        } catch {
            return refuse(id, method, error, context: context)
        }

        let run: @Sendable (JSONObject, RequestContext) async throws(ToolformerError) -> JSONValue
        switch handler {
        case .async(let asyncRun):
            run = asyncRun
        case .asyncUnlessAnsweredAtOnce(let atOnce, let asyncRun):
            // A request that streams or reports progress wants its events: only the task gives them.
            if params["stream"] != .bool(true) && progressToken == nil {
                let started = ContinuousClock.now
                let requestContext = RequestContext(
                    id: id, method: method, peer: peer, connectionID: connectionID, logger: logger, events: .disabled(id))
                if let answer = atOnce(params, requestContext) {
                    write(MessageEncoder.result(id: id, encoded: answer), context: context)
                    finished(method: method, id: id, code: 0, started: started, logger: logger)
                    return
                }
            }
            run = asyncRun
        case .immediate(let run):
            // The connection's logger as it is: cheap methods rarely log, and setting metadata
            // on every request cost a tenth of a ping. finished() adds the request's id.
            let requestLogger = logger
            let started = ContinuousClock.now
            let requestContext = RequestContext(
                id: id, method: method, peer: peer, connectionID: connectionID, logger: requestLogger,
                events: .disabled(id))
            let response: [UInt8]
            var code: Int64 = 0
            do throws(ToolformerError) {
                response = MessageEncoder.result(id: id, try run(params, requestContext))
            } catch {
                code = error.rpcCode
                response = MessageEncoder.error(id: id, error)
            }
            write(response, context: context)
            finished(method: method, id: id, code: code, started: started, logger: requestLogger)
            // An MCP client: after its answer, it hears when the tool list changes.
            if method == "initialize", code == 0 { shared.state.subscribeToToolListChanges(connectionID) }
            return
        }

        var requestLogger = logger
        requestLogger[metadataKey: "request.id"] = "\(connectionID).\(id)"
        requestLogger[metadataKey: "request.method"] = "\(method)"
        guard inflight.count < limits.maxInflightPerConnection else {
            return refuse(id, method, .overloaded(
                "too many requests in flight on this connection (max \(limits.maxInflightPerConnection))",
                retryAfterMs: 100), context: context)
        }
        let channel = context.channel
        let stream = params["stream"] == .bool(true)
        let progress = progressToken.flatMap { ProgressReporter(method: method, params: params, token: $0) }
        let events: EventSink
        if stream || progress != nil {
            events = EventSink(requestID: id, stream: stream, progress: progress) { bytes in
                channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
            }
        } else {
            events = .disabled(id)
        }
        let requestContext = RequestContext(
            id: id, method: method, peer: peer, connectionID: connectionID, logger: requestLogger, events: events)
        let ref = shared.state.makeRef()
        inflight[id] = Inflight(task: nil, cancelReason: nil, method: method, ref: ref, started: .now)
        shared.state.requestStarted()

        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        shared.state.track(ServerState.RequestRecord(
            ref: ref, method: method, tool: params["name"]?.stringValue, peer: peer,
            startedUnixMs: WallClock.unixMilliseconds(),
            cancel: { eventLoop.execute { loopBound.value.cancel(id, reason: .client) } }))
        inflight[id]?.task = Task {
            let outcome: Result<JSONValue, ToolformerError>
            do throws(ToolformerError) {
                outcome = .success(try await run(params, requestContext))
            } catch {
                outcome = .failure(error)
            }
            eventLoop.execute { loopBound.value.complete(id, outcome) }
        }
    }

    /// Answers a request the daemon will not run, and counts it.
    private func refuse(_ id: RequestID, _ method: String, _ error: ToolformerError, context: ChannelHandlerContext) {
        write(MessageEncoder.error(id: id, error), context: context)
        shared.metrics.requestFinished(method: method, code: error.rpcCode, duration: .zero)
    }

    /// Writes the one response of an async request, unless it was cancelled by a disconnect.
    private func complete(_ id: RequestID, _ outcome: Result<JSONValue, ToolformerError>) {
        guard let entry = inflight.removeValue(forKey: id) else { return }
        shared.state.requestFinished()
        shared.state.untrack(entry.ref)
        let code: Int64
        switch (entry.cancelReason, outcome) {
        case (.some(let reason), _): code = reason.error?.rpcCode ?? -32800
        case (nil, .success): code = 0
        case (nil, .failure(let error)): code = error.rpcCode
        }
        finished(method: entry.method, id: id, code: code, started: entry.started, logger: logger)
        guard let context = channelContext else { return }
        let response: [UInt8]?
        switch entry.cancelReason {
        case .some(let reason):
            response = reason.error.map { MessageEncoder.error(id: id, $0) }
        case .none:
            switch outcome {
            case .success(let result): response = MessageEncoder.result(id: id, result)
            case .failure(let error):
                if error.rpcCode == -32603 { logger.error("internal error", metadata: ["request.id": "\(connectionID).\(id)", "error": "\(error.message)"]) }
                response = MessageEncoder.error(id: id, error)
            }
        }
        if let response, context.channel.isActive {
            write(response, context: context)
            needsFlush = false
            context.flush()
        }
        closeIfIdle(context: context)
    }

    private func cancel(_ id: RequestID, reason: CancelReason) {
        guard inflight[id] != nil, inflight[id]?.cancelReason == nil else { return }
        inflight[id]?.cancelReason = reason
        inflight[id]?.task?.cancel()
    }

    // MARK: - Output

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(bytes: bytes)
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    private func refuse(context: ChannelHandlerContext, _ error: ToolformerError) {
        let channel = context.channel
        let buffer = channel.allocator.buffer(bytes: MessageEncoder.error(id: nil, error))
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func closeIfIdle(context: ChannelHandlerContext) {
        guard closeWhenIdle, inflight.isEmpty else { return }
        // An empty write completes after every earlier write, so nothing queued is lost by the close.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// SO_PEERCRED; completes synchronously on the channel's own event loop.
    private static func peerCredentials(of channel: any Channel) -> PeerCredentials? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let future: EventLoopFuture<toolformer_ucred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        var credentials: PeerCredentials?
        future.assumeIsolated().whenSuccess { credentials = PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
        return credentials
    }

    /// One line per request at info (debug for ping, which monitoring sends often), and the
    /// request metrics. The logger carries connection and peer; the request's id is added.
    private func finished(method: String, id: RequestID, code: Int64, started: ContinuousClock.Instant, logger: Logger) {
        let duration = ContinuousClock.now - started
        shared.metrics.requestFinished(method: method, code: code, duration: duration)
        let level: Logger.Level = method == "ping" ? .debug : .info
        guard logger.logLevel <= level else { return }
        logger.log(level: level, "request", metadata: [
            "request.id": "\(connectionID).\(id)", "request.method": "\(method)", "request.code": "\(code)",
            "request.duration_us": "\(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)",
        ])
    }

}
