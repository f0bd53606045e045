public import AsyncHTTPClient
public import Logging
public import NIOCore
public import ServiceLifecycle
public import ToolformerCore
import Synchronization

/// The one `HTTPClient` of the daemon: HTTP tools, `http_get` and LLM providers all share its pools.
///
/// A `Service`: `run()` waits for graceful shutdown and then shuts the client down, so the daemon's
/// `ServiceGroup` owns its life. List it before the services that use it: the group stops services
/// in reverse order, so the client outlives every request they drain.
///
/// Code that does not run it in a group (tests) calls ``shutdown()``; an `HTTPClient` that is never
/// shut down traps in debug builds when it is released.
public final class SharedHTTPClient: Service, Sendable, CustomStringConvertible {
    /// Requests through ``execute(_:deadline:logger:)`` (and so ``fetch(_:deadline:maxBodyBytes:errorBodyBytes:redirects:logger:)``).
    public struct Statistics: Sendable, Equatable {
        /// Requests handed to the client, redirect hops included.
        public var started = 0
        /// Requests that got a response head.
        public var responded = 0
        /// Requests that failed before a response head, cancellations excluded.
        public var failed = 0
        /// Requests whose caller was cancelled before a response head.
        public var cancelled = 0

        /// Requests waiting for a response head now.
        public var inFlight: Int { started - responded - failed - cancelled }

        public init() {}
    }

    /// The async-http-client instance, for callers that need its full API.
    public let client: HTTPClient
    /// What the client was built from.
    public let configuration: ToolformerConfig.HTTP

    private struct State {
        var statistics = Statistics()
        var shutDown = false
    }

    private let state = Mutex(State())
    private let logger: Logger

    public var description: String { "SharedHTTPClient" }

    /// A client with `[http]`'s pool settings on `eventLoopGroup`; `logger` receives the pool's own
    /// background messages.
    ///
    /// Redirects are not followed by the client itself: ``fetch(_:deadline:maxBodyBytes:errorBodyBytes:redirects:logger:)``
    /// follows them and drops secret headers when a redirect leaves the origin. Failed connection
    /// attempts are not retried inside the client either: the request fails at once (a refused
    /// connection in about a millisecond, not after `connect_timeout_ms`) and the orchestrator's
    /// retry policy, with its backoff and deadlines, decides what happens next.
    public init(configuration: ToolformerConfig.HTTP, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        var pool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .milliseconds(Int64(configuration.idleTimeoutMs)),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnectionsPerHost)
        pool.retryConnectionEstablishment = false
        var clientConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(configuration.connectTimeoutMs))),
            connectionPool: pool,
            decompression: .disabled)
        // HTTP/2 where the server offers it through ALPN, HTTP/1.1 elsewhere.
        clientConfiguration.httpVersion = .automatic
        self.configuration = configuration
        self.logger = logger
        self.client = HTTPClient(
            eventLoopGroup: eventLoopGroup, configuration: clientConfiguration, backgroundActivityLogger: logger)
    }

    public func run() async throws {
        // Cancellation instead of a graceful shutdown ends the wait too; either way the client closes.
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Closes every pooled connection and fails requests still in flight. Later calls do nothing.
    public func shutdown() async throws {
        let first = state.withLock { state in
            defer { state.shutDown = true }
            return !state.shutDown
        }
        guard first else { return }
        logger.debug("shutting down the shared HTTP client", metadata: ["http.inflight": "\(statistics().inFlight)"])
        try await client.shutdown()
    }

    /// Counters since start.
    public func statistics() -> Statistics {
        state.withLock { $0.statistics }
    }

    /// `HTTPClient.execute(_:deadline:logger:)`, counted in ``statistics()``.
    ///
    /// The deadline covers the wait for the response head only; the body is streamed afterwards.
    /// Cancelling the calling task aborts the request (the connection is closed, not returned to
    /// the pool) and this throws; the error is then whatever the client reports, so callers check
    /// `Task.isCancelled`.
    public func execute(
        _ request: HTTPClientRequest, deadline: NIODeadline, logger: Logger? = nil
    ) async throws -> HTTPClientResponse {
        state.withLock { $0.statistics.started += 1 }
        do {
            let response = try await client.execute(request, deadline: deadline, logger: logger)
            state.withLock { $0.statistics.responded += 1 }
            return response
        } catch {
            let cancelled = Task.isCancelled
            state.withLock {
                if cancelled { $0.statistics.cancelled += 1 } else { $0.statistics.failed += 1 }
            }
            throw error
        }
    }
}
