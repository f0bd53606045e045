import Logging
import ServiceLifecycle
import UnixSignals
import Synchronization
import ToolformerCore
import ToolformerProtocol
import ToolformerServer
import ToolformerSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Re-reads the configuration and applies it all at once, or not at all.
final class Reloader: Sendable {
    private let path: String
    private let current: Mutex<ToolformerConfig>
    private let registry: ToolRegistry
    private let orchestrator: Orchestrator
    private let state: ServerState
    private let notifier: SystemdNotifier
    private let logger: Logger

    init(
        path: String, current: ToolformerConfig, registry: ToolRegistry, orchestrator: Orchestrator,
        state: ServerState, notifier: SystemdNotifier, logger: Logger
    ) {
        self.path = path
        self.current = Mutex(current)
        self.registry = registry
        self.orchestrator = orchestrator
        self.state = state
        self.notifier = notifier
        self.logger = logger
    }

    /// Reloads; on a bad file the running configuration stays and the error says file, key, reason.
    func reload(trigger: String) -> Result<Int, ConfigError> {
        // One reload at a time: the lock is held across load and apply.
        current.withLock { current in
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
                return .failure(error)
            }
            let tools = ConfiguredTools.make(from: loaded, logger: logger)
            registry.replace(with: tools)
            orchestrator.update(.init(loaded))
            state.limits = ServerLimits(loaded, daemonUID: getuid())
            current = loaded
            logger.info("configuration reloaded", metadata: ["tools": "\(tools.count)"])
            notifier.ready(status: "Reloaded: \(tools.count) tools")
            return .success(tools.count)
        }
    }

    func reloadForClient(_ context: RequestContext) throws(ToolformerError) -> JSONValue {
        switch reload(trigger: "daemon/reload by uid \(context.peer.uid)") {
        case .success(let count):
            return ["reloaded": true, "tools": .int(Int64(count))]
        case .failure(let error):
            throw ToolformerError.invalidParams("configuration refused: \(error)", field: error.key)
                .with("file", .string(error.file)).with("key", .string(error.key)).with("reason", .string(error.reason))
        }
    }
}

/// Reloads on SIGHUP until the daemon shuts down.
struct ReloadService: Service {
    let reloader: Reloader

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            _ = reloader.reload(trigger: "SIGHUP")
        }
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
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let line = "Serving: \(state.connections) connections, \(state.inflight) requests in flight"
            if line != last && !state.isDraining {
                notifier.status(line)
                last = line
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }
}
