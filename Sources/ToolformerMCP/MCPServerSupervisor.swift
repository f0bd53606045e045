import Foundation
public import Logging
import MCP
import Synchronization
public import ToolformerCore
public import ToolformerHTTP
import ToolformerProtocol

/// Runs one configured MCP server for the daemon's whole life: starts it, initializes it, lists
/// its tools into the registry, pings it, and restarts it with exponential backoff when it exits
/// or stops answering. While it is down its tools stay listed and calls fail at once with the
/// reason.
public final class MCPServerSupervisor: Sendable {
    public enum Phase: String, Sendable {
        /// Starting (or restarting) the process and initializing it.
        case starting
        /// Initialized; its tools are listed and calls go through.
        case running
        /// Down, waiting out the backoff before the next start.
        case backoff
        /// Stopped for good (daemon stop, or removed or changed by a reload).
        case stopped
    }

    /// `daemon/status`'s view of the server.
    public struct Snapshot: Sendable {
        public var phase: Phase
        public var pid: Int32?
        public var restarts: Int
        public var tools: Int
        public var lastError: String?
        /// The first start has ended, one way or the other (start-up waits for this).
        public var settled: Bool
    }

    /// How the supervisor times things; the defaults are the daemon's.
    public struct Timing: Sendable {
        /// The initialize handshake and each page of tools/list.
        public var handshakeTimeout: Duration = .seconds(10)
        /// The first restart's delay, doubled for each further failure up to `maxBackoff`.
        public var initialBackoff: Duration = .milliseconds(250)
        public var maxBackoff: Duration = .seconds(30)
        /// A session that lasted this long resets the backoff.
        public var healthyAfter: Duration = .seconds(60)
        /// SIGTERM first; SIGKILL to the process group if it has not exited after this.
        public var terminationGrace: Duration = .seconds(2)

        public init() {}
    }

    struct State {
        var phase: Phase = .starting
        var pid: Int32? = nil
        var restarts = 0
        var tools = 0
        var lastError: String? = nil
        var settled = false
        var client: Client? = nil
    }

    public let config: MCPServerConfig
    let timing: Timing
    /// For servers reached by `url`; nil: such servers cannot be run.
    let http: SharedHTTPClient?
    let logger: Logger
    let publish: @Sendable ([ToolRegistry.Entry]) -> Void
    private let state = Mutex(State())
    /// Fired by `stop`: the session ends gracefully (stdin closed first) and no restart follows.
    let stopLatch = MCPLatch()

    /// - Parameter publish: receives this server's tools each time they are listed.
    public init(
        config: MCPServerConfig, timing: Timing = Timing(), http: SharedHTTPClient? = nil, logger: Logger,
        publish: @escaping @Sendable ([ToolRegistry.Entry]) -> Void
    ) {
        self.config = config
        self.timing = timing
        self.http = http
        var logger = logger
        logger[metadataKey: "mcp.server"] = "\(config.name)"
        self.logger = logger
        self.publish = publish
        _ = mcpSIGPIPEIgnored
    }

    public var name: String { config.name }

    public var snapshot: Snapshot {
        state.withLock {
            Snapshot(phase: $0.phase, pid: $0.pid, restarts: $0.restarts, tools: $0.tools, lastError: $0.lastError, settled: $0.settled)
        }
    }

    /// Ends `run`: a stdio server's stdin is closed, it gets `terminationGrace` to exit, then
    /// SIGTERM and SIGKILL; it is reaped before `run` returns.
    public func stop() { stopLatch.fire() }

    /// Supervises until `stop` or cancellation (which skips the wait for a clean exit).
    public func run() async {
        await superviseLoop()
        state.withLock {
            $0.phase = .stopped
            $0.client = nil
            $0.pid = nil
            $0.settled = true
        }
    }

    private func superviseLoop() async {
        var failures = 0
        while !Task.isCancelled && !stopLatch.isFired {
            update { $0.phase = .starting }
            let started = ContinuousClock.now
            let reason = await runSession()
            if Task.isCancelled || stopLatch.isFired { break }
            let lasted = ContinuousClock.now - started
            if lasted >= timing.healthyAfter { failures = 0 }
            failures += 1
            let delay = Self.backoff(failures: failures, timing: timing)
            logger.warning("MCP server down; restarting", metadata: [
                "mcp.reason": "\(reason)", "mcp.restart_in_ms": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)",
            ])
            update {
                $0.phase = .backoff
                $0.client = nil
                $0.pid = nil
                $0.lastError = reason
                $0.settled = true
            }
            guard await sleepUnlessStopped(delay) else { break }
            update { $0.restarts += 1 }
        }
    }

    /// Sleeps `duration`; false when `stop` or cancellation cut it short.
    private func sleepUnlessStopped(_ duration: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await Task.sleep(for: duration)) != nil }
            group.addTask {
                await self.stopLatch.wait()
                return false
            }
            let slept = await group.next() ?? false
            group.cancelAll()
            return slept && !Task.isCancelled
        }
    }

    static func backoff(failures: Int, timing: Timing) -> Duration {
        let exponent = min(max(failures - 1, 0), 20)
        let delay = timing.initialBackoff * (1 << exponent)
        return min(delay, timing.maxBackoff)
    }

    /// One life of the server; returns why it ended.
    private func runSession() async -> String {
        switch config.transport {
        case .stdio(let stdio):
            return await runStdio(stdio)
        case .remote(let remote):
            guard let http else { return "no HTTP client to reach the server with" }
            return await runRemote(remote, http: http)
        }
    }

    func update(_ body: (inout State) -> Void) { state.withLock { body(&$0) } }

    /// One session, on either transport: the conversation, `watch` (what sees this transport end:
    /// the server's stdout closing, the HTTP client failing) and a stop race; the first to end
    /// gives the reason. Then the server is marked as backing off with it, and the client is
    /// disconnected, which fails calls still waiting for an answer that will never come (and, on
    /// stdio, closes the server's stdin). Returns the reason.
    func runSession(client: Client, transport: any Transport, watch: @escaping @Sendable () async -> String?) async -> String {
        let reason = await withTaskGroup(of: String?.self) { session in
            session.addTask(operation: watch)
            session.addTask { await self.converse(client: client, transport: transport) }
            session.addTask {
                await self.stopLatch.wait()
                return Task.isCancelled ? nil : "stopped"
            }
            defer { session.cancelAll() }
            for await ending in session {
                if let ending { return ending }
            }
            return "stopped"
        }
        update {
            $0.client = nil
            $0.phase = .backoff
            $0.lastError = reason
        }
        await client.disconnect()
        return reason
    }

    /// Initializes `client` over `transport`, lists the tools and keeps the session alive with
    /// pings until it fails; returns why. Called inside the process's life.
    func converse(client: Client, transport: any Transport) async -> String {
        // connect() runs initialize through a wait that cancellation cannot end: race it against
        // the handshake timeout, and on losing, disconnect (which fails the pending request).
        let events = AsyncStream.makeStream(of: SessionEvent.self)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await client.connect(transport: transport) }
                group.addTask {
                    try await Task.sleep(for: self.timing.handshakeTimeout)
                    throw MCPRequests.TimedOut(what: "initialize", after: self.timing.handshakeTimeout)
                }
                do {
                    try await group.next()
                    group.cancelAll()
                } catch {
                    await client.disconnect()
                    throw error
                }
            }
            await client.onNotification(ToolListChangedNotification.self) { _ in
                events.continuation.yield(.listChanged)
            }
            try await listTools(client)
        } catch {
            return Task.isCancelled ? "stopped" : "initialization failed: \(Self.describe(error))"
        }
        update {
            $0.phase = .running
            $0.client = client
            $0.settled = true
            $0.lastError = nil
        }
        logger.info("MCP server ready", metadata: ["mcp.tools": "\(snapshot.tools)"])

        // Between pings of a running server; a ping unanswered this long ends the session.
        let pingInterval = Duration.milliseconds(config.pingIntervalMs)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    do { try await Task.sleep(for: pingInterval) } catch { break }
                    events.continuation.yield(.ping)
                }
            }
            defer { group.cancelAll() }
            for await event in events.stream {
                do {
                    switch event {
                    case .ping:
                        _ = try await MCPRequests.send(Ping.request(), on: client, timeout: pingInterval, what: "ping")
                    case .listChanged:
                        logger.info("MCP server's tool list changed; listing again")
                        try await listTools(client)
                    }
                } catch {
                    return Task.isCancelled ? "stopped" : Self.describe(error)
                }
            }
            return "stopped"
        }
    }

    enum SessionEvent: Sendable {
        case ping
        case listChanged
    }

    /// Lists every page of tools and publishes them.
    private func listTools(_ client: Client) async throws {
        var tools: [MCP.Tool] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let request = cursor.map { ListTools.request(.init(cursor: $0)) } ?? ListTools.request(.init())
            let page = try await MCPRequests.send(request, on: client, timeout: timing.handshakeTimeout, what: "tools/list")
            tools += page.tools
            cursor = page.nextCursor
            pages += 1
            // A server that hands out cursors forever must not hold the session.
            if pages > 1000 { throw MCPRequests.TimedOut(what: "tools/list (over 1000 pages)", after: .zero) }
        } while cursor != nil
        let entries = MCPTool.entries(for: tools, server: self)
        update { $0.tools = entries.count }
        publish(entries)
    }

    /// The client to call through, or why there is none.
    func currentClient() -> Result<Client, ToolFailure> {
        state.withLock { state in
            if state.phase == .running, let client = state.client { return .success(client) }
            let why: String
            switch state.phase {
            case .starting: why = state.lastError.map { "restarting after: \($0)" } ?? "still starting"
            case .backoff: why = "restarting after: \(state.lastError ?? "it stopped")"
            case .stopped: why = "stopped (daemon stopping, or the server was removed or changed by a reload)"
            case .running: why = "not connected"
            }
            return .failure(ToolFailure.transient("MCP server \(config.name) is unavailable: \(why)"))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? MCPError { return error.errorDescription ?? "\(error)" }
        return "\(error)"
    }
}

/// Writing to a server that has exited raises SIGPIPE, whose default action ends the daemon.
private let mcpSIGPIPEIgnored: Bool = {
    _ = signal(SIGPIPE, SIG_IGN)
    return true
}()
