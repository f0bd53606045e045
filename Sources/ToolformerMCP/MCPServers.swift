public import Logging
public import ServiceLifecycle
import Synchronization
public import ToolformerCore
public import ToolformerHTTP
public import ToolformerProtocol

/// Every configured MCP server, supervised for the daemon's life, as one `Service`.
///
/// Starts them all at once; a reload (`apply`) stops, starts or restarts only the servers whose
/// configuration changed. On graceful shutdown every server is terminated (SIGTERM to its process
/// group, SIGKILL after a short grace) and reaped before `run` returns.
public final class MCPServers: Service, Sendable {
    /// Receives a server's tools for the registry partition `source` (empty: remove them).
    public typealias Publish = @Sendable (_ source: String, _ tools: [ToolRegistry.Entry]) -> Void

    private enum Command: Sendable {
        case apply([String: MCPServerConfig])
    }

    private struct Running: Sendable {
        var generation: Int
        var supervisor: MCPServerSupervisor
    }

    private let initial: [String: MCPServerConfig]
    private let timing: MCPServerSupervisor.Timing
    private let http: SharedHTTPClient?
    private let startupWait: Duration
    private let logger: Logger
    private let publish: Publish
    private let onStartupSettled: @Sendable (_ waiting: [String]) -> Void
    private let onStartupWait: @Sendable (_ bound: Duration) -> Void
    private let running = Mutex<(next: Int, servers: [String: Running])>((0, [:]))
    private let commands: AsyncStream<Command>
    private let submit: AsyncStream<Command>.Continuation

    /// - Parameters:
    ///   - startupWait: how long start-up waits for the servers' first start before
    ///     `onStartupSettled` (the daemon then says READY); slower servers go on starting.
    ///   - onStartupWait: called once before waiting, with the bound (the daemon extends its
    ///     start timeout with it).
    ///   - onStartupSettled: called once, with the servers not up yet.
    public init(
        configs: [String: MCPServerConfig], timing: MCPServerSupervisor.Timing = .init(), http: SharedHTTPClient? = nil,
        startupWait: Duration = .seconds(5), logger: Logger, publish: @escaping Publish,
        onStartupWait: @escaping @Sendable (Duration) -> Void = { _ in },
        onStartupSettled: @escaping @Sendable ([String]) -> Void = { _ in }
    ) {
        self.initial = configs
        self.timing = timing
        self.http = http
        self.startupWait = startupWait
        self.logger = logger
        self.publish = publish
        self.onStartupWait = onStartupWait
        self.onStartupSettled = onStartupSettled
        (commands, submit) = AsyncStream.makeStream(of: Command.self)
    }

    public var description: String { "MCPServers" }

    /// The registry partition of server `name`.
    public static func source(_ name: String) -> String { "mcp:" + name }

    /// A reload's configuration: applied in the background, in order.
    public func apply(_ configs: [String: MCPServerConfig]) { submit.yield(.apply(configs)) }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            let started = initial.keys.sorted().map { start(initial[$0]!, in: &group) }
            group.addTask { await self.settleStartup(started) }
            for await command in commands.cancelOnGracefulShutdown() {
                switch command {
                case .apply(let configs): reconcile(configs, in: &group)
                }
            }
            // Graceful shutdown: stop every server; the group waits until each is reaped.
            let all = running.withLock { $0.servers.values.map(\.supervisor) }
            for supervisor in all { supervisor.stop() }
        }
    }

    private func start(_ config: MCPServerConfig, in group: inout DiscardingTaskGroup) -> MCPServerSupervisor {
        let generation = running.withLock { state in
            state.next += 1
            return state.next
        }
        let name = config.name
        let supervisor = MCPServerSupervisor(config: config, timing: timing, http: http, logger: logger) { [self] entries in
            // A server stopped by a reload must not publish over its successor.
            guard running.withLock({ $0.servers[name]?.generation == generation }) else { return }
            publish(Self.source(name), entries)
        }
        running.withLock { $0.servers[name] = Running(generation: generation, supervisor: supervisor) }
        group.addTask { await supervisor.run() }
        return supervisor
    }

    private func reconcile(_ configs: [String: MCPServerConfig], in group: inout DiscardingTaskGroup) {
        let current = running.withLock { $0.servers }
        for (name, entry) in current.sorted(by: { $0.key < $1.key }) where configs[name] == nil {
            logger.info("MCP server removed by reload; stopping it", metadata: ["mcp.server": "\(name)"])
            _ = running.withLock { $0.servers.removeValue(forKey: name) }
            entry.supervisor.stop()
            publish(Self.source(name), [])
        }
        for (name, config) in configs.sorted(by: { $0.key < $1.key }) {
            if let entry = current[name] {
                guard entry.supervisor.config != config else { continue }
                logger.info("MCP server changed by reload; restarting it", metadata: ["mcp.server": "\(name)"])
                entry.supervisor.stop()
            } else {
                logger.info("MCP server added by reload; starting it", metadata: ["mcp.server": "\(name)"])
            }
            // Its old tools stay listed (and answer "unavailable") until the new one lists.
            _ = start(config, in: &group)
        }
    }

    private func settleStartup(_ supervisors: [MCPServerSupervisor]) async {
        guard !supervisors.isEmpty else { return onStartupSettled([]) }
        onStartupWait(startupWait)
        let deadline = ContinuousClock.now + startupWait
        while ContinuousClock.now < deadline, supervisors.contains(where: { !$0.snapshot.settled }) {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }
        }
        let waiting = supervisors.filter { $0.snapshot.phase != .running }.map(\.name)
        if !waiting.isEmpty {
            logger.warning("MCP servers not up at start-up; they go on starting", metadata: ["mcp.servers": "\(waiting.joined(separator: ","))"])
        }
        onStartupSettled(waiting)
    }

    /// `daemon/status`'s `mcpServers`.
    public func status() -> JSONObject {
        let servers = running.withLock { $0.servers }
        var status = JSONObject()
        for (name, entry) in servers.sorted(by: { $0.key < $1.key }) {
            let snapshot = entry.supervisor.snapshot
            var server: JSONObject = [
                "state": .string(snapshot.phase.rawValue), "restarts": .int(Int64(snapshot.restarts)),
                "tools": .int(Int64(snapshot.tools)),
            ]
            server["pid"] = snapshot.pid.map { .int(Int64($0)) } ?? .null
            server["lastError"] = snapshot.lastError.map { .string($0) } ?? .null
            status[name] = .object(server)
        }
        return status
    }
}
