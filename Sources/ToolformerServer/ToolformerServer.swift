#if canImport(Glibc)
import Glibc
#endif
public import Logging
import NIOCore
import Synchronization
public import NIOPosix
public import ServiceLifecycle
public import ToolformerCore

/// The Unix-socket server: accepts connections, and on graceful shutdown drains them as the
/// protocol's draining rule says.
public struct ToolformerServer: Service {
    /// Hooks the daemon uses to tell systemd what the server is doing.
    public struct Hooks: Sendable {
        public var listening: @Sendable () -> Void = {}
        public var drainStarted: @Sendable () -> Void = {}
        /// Called about once a second while a drain waits, with the time it may still take.
        public var draining: @Sendable (_ remaining: Duration, _ inflight: Int) -> Void = { _, _ in }
        public init() {}
    }

    public let listener: Listener
    public let state: ServerState
    private let context: ServerContext
    private let eventLoops: MultiThreadedEventLoopGroup
    private let hooks: Hooks
    private let logger: Logger

    public init(
        listener: Listener, methods: MethodTable, state: ServerState, eventLoops: MultiThreadedEventLoopGroup,
        hooks: Hooks = Hooks(), logger: Logger, maxDepth: Int = 64, metrics: any ToolformerMetrics = NoMetrics()
    ) {
        self.listener = listener
        self.state = state
        self.eventLoops = eventLoops
        self.hooks = hooks
        self.logger = logger
        context = ServerContext(methods: methods, state: state, logger: logger, maxDepth: maxDepth, metrics: metrics)
    }

    public func run() async throws {
        let channel = try await bind()
        logger.info("listening", metadata: ["socket": "\(listener)"])
        hooks.listening()

        // Returns when a graceful shutdown starts; throws if the task is cancelled instead.
        try? await gracefulShutdown()
        await drain(serverChannel: channel)
    }

    private func bind() async throws -> any Channel {
        let shared = context
        let state = state
        let bootstrap = ServerBootstrap(group: eventLoops)
            .serverChannelOption(.backlog, value: 512)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // Answers past 1 MiB not yet taken by the kernel make a connection unwritable, which
            // stops reading its requests (BackPressureHandler) and starts its slow-reader timer.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let limits = state.limits
                    try channel.pipeline.syncOperations.addHandler(BackPressureHandler())
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LineFrameDecoder(maxLineBytes: limits.maxLineBytes)))
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(shared: shared, limits: limits))
                }
            }

        switch listener {
        case .path(let path, let mode, let group):
            try SocketFile.prepare(path)
            // The socket is created with its configured mode (the umask is its complement), because
            // it listens as soon as it exists: a chmod afterwards would leave a moment in which a
            // client can connect to a socket with other permissions than configured.
            let previous = umask(mode_t(~mode & 0o777))
            defer { umask(previous) }
            let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            try SocketFile.applyPermissions(path, mode: mode, group: group)
            return channel
        case .inherited(let fd, _):
            let channel = try await bootstrap.withBoundSocket(fd).get()
            // NIO calls listen(128) again, which shrinks the backlog systemd set up.
            listen(fd, SOMAXCONN)
            return channel
        }
    }

    private func drain(serverChannel: any Channel) async {
        hooks.drainStarted()
        state.startDraining()
        try? await serverChannel.close()
        if case .path(let path, _, _) = listener { unlink(path) }

        let timeout = state.limits.drainTimeout
        logger.info("draining", metadata: ["inflight": "\(state.inflight)", "drain_timeout": "\(timeout)"])
        let deadline = ContinuousClock.now + timeout
        var lastReport = ContinuousClock.now
        while state.inflight > 0 && ContinuousClock.now < deadline {
            if ContinuousClock.now - lastReport >= .seconds(1) {
                lastReport = .now
                hooks.draining(deadline - .now, state.inflight)
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let channels = state.allChannels
        if state.inflight > 0 {
            logger.warning("drain timeout reached; cancelling requests in flight", metadata: ["inflight": "\(state.inflight)"])
            for channel in channels { channel.pipeline.fireUserInboundEventTriggered(ServerEvent.cancelInflight) }
            let cancelDeadline = ContinuousClock.now + .seconds(5)
            while state.inflight > 0 && ContinuousClock.now < cancelDeadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(ServerEvent.closeWhenIdle) }
        let closeDeadline = ContinuousClock.now + .seconds(2)
        while state.connections > 0 && ContinuousClock.now < closeDeadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        for channel in state.allChannels { try? await channel.close() }
        logger.info("drained")
    }

    /// Proves each event loop still runs tasks (the watchdog's probe). Gives up, false, when the
    /// calling task is cancelled: a wedged loop must not hold the watchdog or shutdown hostage.
    public static func probe(_ eventLoops: MultiThreadedEventLoopGroup) async -> Bool {
        for loop in eventLoops.makeIterator() {
            guard await runs(on: loop) else { return false }
        }
        return true
    }

    private static func runs(on loop: any EventLoop) async -> Bool {
        let waiter = ProbeWaiter()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiter.install(continuation)
                loop.execute { waiter.resume(with: true) }
            }
        } onCancel: {
            waiter.cancel()
        }
    }
}

/// Resumes a probe's continuation exactly once: from the event loop, or from cancellation.
private final class ProbeWaiter: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Bool, Never>?, cancelled: Bool)>((nil, false))

    func install(_ continuation: CheckedContinuation<Bool, Never>) {
        let cancelled = state.withLock { state in
            state.continuation = continuation
            return state.cancelled
        }
        if cancelled { resume(with: false) }
    }

    func cancel() {
        state.withLock { $0.cancelled = true }
        resume(with: false)
    }

    func resume(with value: Bool) {
        let continuation = state.withLock { state in
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: value)
    }
}
