public import ArgumentParser
public import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ToolformerCore
import ToolformerHTTP
import ToolformerMCP
import ToolformerMetrics
import ToolformerProtocol
import ToolformerProviders
import ToolformerRedis
import ToolformerServer
import ToolformerStorage
public import ToolformerSystemd
import ToolformerTools

#if canImport(Glibc)
import Glibc
#endif

extension LogDestination: ExpressibleByArgument {}

@main
struct ToolformerDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toolformerd",
        abstract: "One daemon per host that runs LLM tool calls for every local program.",
        discussion: """
            Serves newline-delimited JSON-RPC 2.0 on a Unix socket (see docs/protocol.md). Under systemd \
            it is a Type=notify service with socket activation, a watchdog and journald logging. \
            SIGHUP reloads the configuration; SIGTERM drains requests in flight and exits 0.
            """,
        version: ToolformerVersion.current)

    @Option(name: .long, help: "The configuration file.")
    var config = "/etc/toolformer/toolformerd.toml"

    @Option(name: .long, help: "The socket path (overrides server.socket and TOOLFORMER_SOCKET; unused under socket activation).")
    var socket: String?

    @Option(name: .long, help: "Where logs go: auto (journald when stderr is the journal), journald or stderr.")
    var log: LogDestination = .auto

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (overrides log.level).")
    var logLevel: Logger.Level?

    func run() async throws {
        let notifier = SystemdNotifier()
        let environment = processEnvironment()

        let loaded: ToolformerConfig
        do throws(ConfigError) {
            loaded = try ToolformerConfig.load(path: config)
        } catch {
            Self.fail("configuration error: \(error)", errno: EINVAL, notifier: notifier)
        }
        let level = logLevel ?? loaded.log.level
        LoggingSystem.bootstrap(SystemdLogging.handlerFactory(destination: log, level: level))
        let logger = Logger(label: "toolformerd")

        let listener = Self.listener(config: loaded, explicit: socket, environment: environment)
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let http = SharedHTTPClient(configuration: loaded.http, eventLoopGroup: eventLoops, logger: logger)
        let credentials = environment["CREDENTIALS_DIRECTORY"]
        let tools: @Sendable (ToolformerConfig) -> [ToolRegistry.Entry] = { config in
            ConfiguredTools.make(from: config, logger: logger) { tool in
                switch tool.kind {
                case .exec(let exec):
                    ExecTool(config: tool, exec: exec, logger: logger)
                case .http(let spec):
                    HTTPTool(config: tool, http: spec, client: http, environment: environment, credentialsDirectory: credentials)
                case .builtin(.httpGet):
                    HTTPGetTool(config: tool, client: http)
                case .builtin:
                    nil
                }
            }
        }
        let clock = SystemClock()
        let cluster = await Self.cluster(loaded, file: config, environment: environment, eventLoops: eventLoops, notifier: notifier, logger: logger)
        let rateLimits: any RateLimitStore = cluster.map { SharedRateLimitStore(cluster: $0, clock: clock, buckets: loaded.rateLimits) }
            ?? LocalRateLimitStore(clock: clock, buckets: loaded.rateLimits)
        let tier = TieredCacheStore.compose([
            Self.diskTier(loaded, notifier: notifier, logger: logger), cluster.map { RedisCacheStore(cluster: $0) },
        ])
        let cache = ResultCache(settings: .init(loaded.cache), tier: tier)
        let providerSettings: @Sendable (ToolformerConfig) -> ProviderRouter.Settings = { config in
            Self.providers(config, http: http, environment: environment, logger: logger)
        }
        let router = ProviderRouter(
            settings: providerSettings(loaded), rateLimits: rateLimits, cache: cache, clock: clock, logger: logger)
        let metrics = PrometheusMetrics()
        let orchestrator = Orchestrator(
            registry: ToolRegistry(tools(loaded)), settings: .init(loaded), clock: clock, rateLimits: rateLimits,
            cache: cache, providers: router, metrics: metrics, leases: cluster.map { RedisFlightLeases(cluster: $0) },
            logger: logger)
        let state = ServerState(limits: ServerLimits(loaded, daemonUID: getuid()))
        // MCP clients hear when a reload or an MCP server changes the tools they list.
        _ = orchestrator.registry.changes.observe { generation in
            let told = state.notifyToolListChanged()
            logger.info("tool list changed", metadata: ["tools.generation": "\(generation)", "mcp.clients_notified": "\(told)"])
        }
        let clusterCheck = ClusterReload(
            cluster: cluster, config: loaded.cluster, file: config, environment: environment, eventLoops: eventLoops, logger: logger)
        let ready = ReadyGate(notifier: notifier)
        let mcpServers = MCPServers(
            configs: loaded.mcpServers, http: http, logger: logger,
            publish: { source, entries in orchestrator.replaceTools(source: source, with: entries) },
            onStartupWait: { bound in
                notifier.extendTimeout(microseconds: UInt64(bound.components.seconds) * 1_000_000 + 5_000_000)
            },
            onStartupSettled: { _ in ready.mcpSettled() })
        let reloader = Reloader(
            path: config, tools: tools, providers: providerSettings, orchestrator: orchestrator, state: state,
            notifier: notifier, logger: logger, check: { new throws(ConfigError) in try await clusterCheck.check(new) },
            applied: { mcpServers.apply($0.mcpServers) })

        var methods = MethodTable()
        let componentStatus: @Sendable () -> JSONObject = {
            var status = orchestrator.status()
            status["pools"] = ["http": Self.poolStatus(http)]
            if let cluster { status["cluster"] = .object(cluster.status()) }
            status["mcpServers"] = .object(mcpServers.status())
            return status
        }
        ProtocolMethods.register(in: &methods, state: state, status: componentStatus)
        let daemonStatus: @Sendable () -> JSONObject = {
            ProtocolMethods.daemonStatus(state: state, extra: componentStatus()).objectValue ?? [:]
        }
        orchestrator.register(in: &methods)
        methods.register("daemon/reload", admin: true, .async { _, context throws(ToolformerError) in
            try await reloader.reloadForClient(context)
        })
        // Last, so every method above is counted under its own name (others as "other").
        MetricsMethods.register(in: &methods, metrics: metrics, status: daemonStatus)

        var hooks = ToolformerServer.Hooks()
        hooks.listening = { ready.listening(status: "Serving on \(listener)") }
        hooks.drainStarted = { notifier.stopping(status: "Draining requests in flight") }
        hooks.draining = { remaining, inflight in
            notifier.extendTimeout(microseconds: UInt64(remaining.components.seconds) * 1_000_000 + 2_000_000)
            notifier.status("Draining: \(inflight) requests in flight")
        }
        let server = ToolformerServer(
            listener: listener, methods: methods, state: state, eventLoops: eventLoops, hooks: hooks, logger: logger,
            metrics: metrics)

        // The group stops services in reverse order: the HTTP client, first here, outlives the drain.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: http),
            // Early, so it stops late: MCP servers are terminated only after requests drained.
            .init(service: mcpServers),
        ]
        // Early, so it stops late: requests that drain may still use Redis.
        if let cluster { services.append(.init(service: cluster)) }
        services += [
            .init(service: ReloadService(reloader: reloader)),
            .init(service: StatusService(state: state, notifier: notifier)),
        ]
        // Early in the list, so it stops late: scrapes still work while requests drain.
        if let endpoint = loaded.metrics.listen {
            services.append(.init(service: MetricsHTTPService(
                endpoint: endpoint, metrics: metrics, status: daemonStatus, eventLoopGroup: eventLoops, logger: logger)))
        }
        if let interval = SystemdWatchdog.interval() {
            logger.info("watchdog enabled", metadata: ["watchdog.interval": "\(interval)"])
            services.append(.init(service: WatchdogService(
                notifier: notifier, interval: interval, logger: logger,
                probe: {
                    guard await ToolformerServer.probe(eventLoops) else { return false }
                    return await orchestrator.probe()
                })))
        }
        // Last in the list, so it is the first to hear of a graceful shutdown and drains while the
        // watchdog and status services still run.
        services.append(.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup,
                              failureTerminationBehavior: .gracefullyShutdownGroup))

        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        do {
            try await group.run()
        } catch let error as ListenError {
            Self.fail(error.description, errno: error.errno, notifier: notifier)
        } catch {
            Self.fail("fatal: \(error)", errno: EIO, notifier: notifier)
        }
        try? await eventLoops.shutdownGracefully()
        logger.info("stopped")
    }

    static func listener(config: ToolformerConfig, explicit: String?, environment: [String: String]) -> Listener {
        if let inherited = SocketActivation.takeListenedSockets().first {
            return .inherited(fd: inherited.fd, name: inherited.name)
        }
        let path = explicit ?? environment["TOOLFORMER_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            ?? config.server.socket
            ?? SocketPath.daemonDefault(environment: environment, uid: getuid())
        return .path(path, mode: config.server.socketMode, group: config.server.socketGroup ?? "")
    }

    /// The configured LLM providers. One whose key cannot be found is still listed, and answers
    /// every request with the reason (so the daemon starts, and `daemon/status` says why).
    static func providers(
        _ config: ToolformerConfig, http: SharedHTTPClient, environment: [String: String], logger: Logger
    ) -> ProviderRouter.Settings {
        var registered: [String: ProviderRouter.Registered] = [:]
        for (name, provider) in config.providers {
            let built: any LLMProvider
            switch provider.kind {
            case .mock:
                built = MockProvider(name: name)
            case .openai, .anthropic:
                do throws(ProviderSetupError) {
                    built = try ProviderFactory.make(provider, client: http, environment: environment, logger: logger)
                        ?? UnavailableProvider(name: name, reason: "kind \(provider.kind.rawValue) has no client")
                } catch {
                    logger.error("provider unavailable", metadata: ["provider.name": "\(name)", "error": "\(error)"])
                    built = UnavailableProvider(name: name, reason: "\(error)")
                }
            }
            registered[name] = ProviderRouter.Registered(provider: built, config: provider)
        }
        return ProviderRouter.Settings(
            providers: registered, defaultProvider: config.orchestrator.defaultProvider,
            fallbacks: config.orchestrator.fallbackProviders)
    }

    /// The on-disk cache tier when `cache.dir` is set. A directory that cannot be used is a
    /// configuration error: better to refuse to start than to run without the tier asked for.
    static func diskTier(_ config: ToolformerConfig, notifier: SystemdNotifier, logger: Logger) -> (any CacheStore)? {
        guard let directory = config.cache.directory, !directory.isEmpty else { return nil }
        do {
            return try DiskCacheStore(directory: directory, maxBytes: config.cache.maxBytes, logger: logger)
        } catch {
            fail("configuration error: cache.dir: \(error)", errno: EIO, notifier: notifier)
        }
    }

    /// The link to the cluster's Redis when `[cluster]` is set. A password Redis refuses, a bad
    /// URL or database refuse the start (exit 1 with the reason, as a bad configuration does); a
    /// Redis that cannot be reached now only starts the daemon degraded.
    static func cluster(
        _ config: ToolformerConfig, file: String, environment: [String: String], eventLoops: any EventLoopGroup,
        notifier: SystemdNotifier, logger: Logger
    ) async -> RedisCluster? {
        guard let settings = config.cluster else { return nil }
        do throws(ConfigError) {
            let endpoint = try ClusterSetup.endpoint(settings, file: file, environment: environment)
            let unreachable = try await ClusterSetup.check(settings, endpoint: endpoint, file: file, eventLoopGroup: eventLoops)
            if let unreachable {
                logger.warning("Redis unreachable at start-up; starting degraded (local cache and local rate limits)",
                               metadata: ["cluster.redis": "\(endpoint)", "cluster.reason": "\(unreachable)"])
            } else {
                logger.info("cluster: shared mode", metadata: ["cluster.redis": "\(endpoint)"])
            }
            let client = RedisClient(endpoint: endpoint, settings: ClusterSetup.clientSettings(settings), eventLoopGroup: eventLoops)
            return RedisCluster(
                client: client, keyPrefix: settings.keyPrefix, maxValueBytes: settings.maxValueBytes,
                reachable: unreachable == nil, unreachableReason: unreachable, logger: logger)
        } catch {
            fail("configuration error: \(error)", errno: EINVAL, notifier: notifier)
        }
    }

    /// The shared HTTP client's view. async-http-client does not expose its pool's open and idle
    /// connections, so this reports the limits it was given and the requests it served.
    static func poolStatus(_ http: SharedHTTPClient) -> JSONValue {
        let stats = http.statistics()
        return [
            "requests": .int(Int64(stats.started)), "responded": .int(Int64(stats.responded)),
            "failed": .int(Int64(stats.failed)), "cancelled": .int(Int64(stats.cancelled)),
            "inFlight": .int(Int64(stats.inFlight)),
            "maxConnectionsPerHost": .int(Int64(http.configuration.maxConnectionsPerHost)),
            "idleTimeoutMs": .int(Int64(http.configuration.idleTimeoutMs)),
        ]
    }

    /// Tells systemd why, prints the reason, exits 1.
    static func fail(_ message: String, errno code: Int32, notifier: SystemdNotifier) -> Never {
        let line = "toolformerd: \(message)\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
        notifier.fatal(status: message, errno: code)
        Glibc.exit(1)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
