import Logging
import ServiceLifecycle
import ToolformerCore
import ToolformerProtocol
import ToolformerServer
import ToolformerSystemd
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Re-reads the configuration and applies it all at once, or not at all.
///
/// Reloads come from SIGHUP and from `daemon/reload`; one consumer runs them in order, so two
/// reloads never interleave their steps.
final class Reloader: Sendable {
    enum Failure: Error {
        case configuration(ConfigError)
        case shuttingDown
    }

    private struct Request: Sendable {
        var trigger: String
        var reply: (@Sendable (Result<Int, Failure>) -> Void)?
    }

    private let path: String
    private let tools: @Sendable (ToolformerConfig) -> [ToolRegistry.Entry]
    private let providers: @Sendable (ToolformerConfig) -> ProviderRouter.Settings
    /// Checks what a new configuration needs outside the process (the cluster's Redis) before
    /// anything is applied: the reload is refused with its error, or goes on and calls what it returns.
    private let check: @Sendable (ToolformerConfig) async throws(ConfigError) -> (@Sendable () -> Void)?
    private let orchestrator: Orchestrator
    private let state: ServerState
    private let notifier: SystemdNotifier
    private let logger: Logger
    /// Runs after a configuration is applied (the MCP servers compare theirs).
    private let applied: @Sendable (ToolformerConfig) -> Void
    private let requests: AsyncStream<Request>
    private let submit: AsyncStream<Request>.Continuation

    init(
        path: String, tools: @escaping @Sendable (ToolformerConfig) -> [ToolRegistry.Entry],
        providers: @escaping @Sendable (ToolformerConfig) -> ProviderRouter.Settings, orchestrator: Orchestrator,
        state: ServerState, notifier: SystemdNotifier, logger: Logger,
        check: @escaping @Sendable (ToolformerConfig) async throws(ConfigError) -> (@Sendable () -> Void)? = { _ in nil },
        applied: @escaping @Sendable (ToolformerConfig) -> Void = { _ in }
    ) {
        self.applied = applied
        self.path = path
        self.tools = tools
        self.providers = providers
        self.check = check
        self.orchestrator = orchestrator
        self.state = state
        self.notifier = notifier
        self.logger = logger
        (requests, submit) = AsyncStream.makeStream(of: Request.self)
    }

    /// Queues a reload and waits for its outcome.
    func reload(trigger: String) async -> Result<Int, Failure> {
        await withCheckedContinuation { continuation in
            let request = Request(trigger: trigger) { continuation.resume(returning: $0) }
            if case .terminated = submit.yield(request) { continuation.resume(returning: .failure(.shuttingDown)) }
        }
    }

    /// Queues a reload without waiting (SIGHUP).
    func requestReload(trigger: String) { submit.yield(Request(trigger: trigger, reply: nil)) }

    /// Runs reloads one at a time until the stream ends.
    func run() async {
        for await request in requests {
            let outcome = await apply(trigger: request.trigger)
            request.reply?(outcome)
        }
    }

    /// Ends the consumer; waiting and later reloads answer `.shuttingDown`.
    func finish() { submit.finish() }

    private func apply(trigger: String) async -> Result<Int, Failure> {
        notifier.reloading()
        logger.info("reloading configuration", metadata: ["config.path": "\(path)", "reload.trigger": "\(trigger)"])
        let loaded: ToolformerConfig
        do throws(ConfigError) {
            loaded = try ToolformerConfig.load(path: path)
        } catch {
            logger.error("reload refused; keeping the running configuration", metadata: [
                "config.file": "\(error.file)", "config.key": "\(error.key)", "error": "\(error.reason)",
            ])
            notifier.ready(status: "Reload refused: \(error)")
            return .failure(.configuration(error))
        }
        let commit: (@Sendable () -> Void)?
        do throws(ConfigError) {
            commit = try await check(loaded)
        } catch {
            logger.error("reload refused; keeping the running configuration", metadata: [
                "config.file": "\(error.file)", "config.key": "\(error.key)", "error": "\(error.reason)",
            ])
            notifier.ready(status: "Reload refused: \(error)")
            return .failure(.configuration(error))
        }
        commit?()
        let entries = tools(loaded)
        await orchestrator.reconfigure(loaded, tools: entries)
        orchestrator.providers?.reconfigure(providers(loaded))
        state.limits = ServerLimits(loaded, daemonUID: getuid())
        applied(loaded)
        logger.info("configuration reloaded", metadata: ["tools": "\(entries.count)"])
        notifier.ready(status: "Reloaded: \(entries.count) tools")
        return .success(entries.count)
    }

    func reloadForClient(_ context: RequestContext) async throws(ToolformerError) -> JSONValue {
        switch await reload(trigger: "daemon/reload by uid \(context.peer.uid)") {
        case .success(let count):
            return ["reloaded": true, "tools": .int(Int64(count))]
        case .failure(.shuttingDown):
            throw .shuttingDown()
        case .failure(.configuration(let error)):
            throw ToolformerError.invalidParams("configuration refused: \(error)", field: error.key)
                .with("file", .string(error.file)).with("key", .string(error.key)).with("reason", .string(error.reason))
        }
    }
}

/// Runs the reloader, and reloads on SIGHUP, until the daemon shuts down.
struct ReloadService: Service {
    let reloader: Reloader

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await reloader.run() }
            for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                reloader.requestReload(trigger: "SIGHUP")
            }
            reloader.finish()
        }
    }
}

/// Sleeps `duration`; false when a graceful shutdown (or cancellation) cut it short.
func sleepUntilShutdown(_ duration: Duration) async -> Bool {
    do {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
        return !Task.isShuttingDownGracefully
    } catch {
        return false
    }
}

/// Keeps systemd's STATUS= line telling the truth about connections and requests in flight.
struct StatusService: Service {
    let state: ServerState
    let notifier: SystemdNotifier

    func run() async throws {
        // A service that returns ends the group: with no NOTIFY_SOCKET, just wait for shutdown.
        guard notifier.isEnabled else {
            try? await gracefulShutdown()
            return
        }
        var last = ""
        // Sleep first: READY=1 carries the first status, and the loop wakes at once on shutdown
        // (a plain sleep would hold a stop for up to its whole length).
        while await sleepUntilShutdown(.seconds(2)) {
            let line = "Serving: \(state.connections) connections, \(state.inflight) requests in flight"
            if line != last && !state.isDraining {
                notifier.status(line)
                last = line
            }
        }
    }
}
