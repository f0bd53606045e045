public import Logging
public import ToolformerProtocol
import Synchronization

/// Runs tool calls for every client of the daemon.
///
/// State that outlives a client (the tool registry, limits, budgets, what is in flight) lives
/// here and in its ``ToolExecutor``, so the socket layer stays a thin translator.
public final class Orchestrator: Sendable {
    public struct Settings: Sendable, Equatable {
        public var maxRequest: Duration
        public var maxConcurrency: Int

        public init(maxRequest: Duration, maxConcurrency: Int) {
            self.maxRequest = maxRequest
            self.maxConcurrency = maxConcurrency
        }

        public init(_ config: ToolformerConfig) {
            self.init(
                maxRequest: .milliseconds(config.orchestrator.maxRequestMs),
                maxConcurrency: config.orchestrator.maxConcurrency)
        }
    }

    public let registry: ToolRegistry
    public let executor: ToolExecutor
    private let settings: Mutex<Settings>
    private let logger: Logger

    public init(
        registry: ToolRegistry, settings: Settings, clock: any ToolformerClock = SystemClock(),
        rateLimits: (any RateLimitStore)? = nil, logger: Logger
    ) {
        self.registry = registry
        self.settings = Mutex(settings)
        self.logger = logger
        executor = ToolExecutor(
            clock: clock, rateLimits: rateLimits ?? LocalRateLimitStore(clock: clock),
            maxConcurrency: settings.maxConcurrency)
        executor.configure(maxConcurrency: settings.maxConcurrency, tools: registry.all())
    }

    /// Applies a configuration: its tools (calls in flight keep the ones they started with), limits
    /// and rate-limit buckets.
    public func reconfigure(_ config: ToolformerConfig, tools: [ToolRegistry.Entry]) async {
        let newSettings = Settings(config)
        await executor.rateLimits.configure(config.rateLimits)
        executor.configure(maxConcurrency: newSettings.maxConcurrency, tools: tools)
        registry.replace(with: tools)
        settings.withLock { $0 = newSettings }
    }

    /// Registers `tools/list`, `tools/call` and `tools/batch`.
    public func register(in table: inout MethodTable) {
        table.register("tools/list", .immediate { [self] params, _ throws(ToolformerError) in try listTools(params) })
        table.register("tools/call", .async { [self] params, context throws(ToolformerError) in
            try await callTool(params, context: context)
        })
        table.register("tools/batch", .async { [self] params, context throws(ToolformerError) in
            try await batch(params, context: context)
        })
    }

    /// For the watchdog: proves a task can be scheduled and this object's locks are free.
    public func probe() async -> Bool {
        await Task.yield()
        _ = settings.withLock { $0 }
        return registry.count >= 0
    }

    /// `daemon/status`'s view of the orchestrator.
    public func status() -> JSONObject {
        var status: JSONObject = ["tools": .int(Int64(registry.count))]
        for (key, value) in executor.status().pairs { status[key] = value }
        return status
    }

    // MARK: - Methods

    func listTools(_ params: JSONObject) throws(ToolformerError) -> JSONValue {
        let reader = ParamReader(params)
        _ = try reader.optionalString("cursor")
        return ["tools": .array(registry.all().map(\.tool.definition.listEntry))]
    }

    func callTool(_ params: JSONObject, context: RequestContext) async throws(ToolformerError) -> JSONValue {
        let reader = ParamReader(params)
        let deadline = try requestDeadline(reader)
        let call = try prepare(reader, field: "", callID: "0", deadline: deadline, context: context)
        switch await executor.run(call) {
        case .result(let result): return result
        case .failure(let error): throw error
        }
    }

    func batch(_ params: JSONObject, context: RequestContext) async throws(ToolformerError) -> JSONValue {
        let reader = ParamReader(params)
        let deadline = try requestDeadline(reader)
        let rawCalls = try reader.requiredArray("calls")
        guard !rawCalls.isEmpty else { throw .invalidParams("calls must not be empty", field: "calls") }
        let limit = try reader.optionalPositiveInt("maxConcurrency").map { Int(clamping: $0) } ?? rawCalls.count

        // Every call is checked before any runs: a batch with a bad call runs nothing.
        var calls: [ToolCall] = []
        calls.reserveCapacity(rawCalls.count)
        for (index, raw) in rawCalls.enumerated() {
            let field = "calls[\(index)]"
            guard case .object(let object) = raw else { throw .invalidParams("\(field) must be an object", field: field) }
            calls.append(try prepare(ParamReader(object), field: field + ".", callID: String(index), deadline: deadline, context: context))
        }

        let started = executor.clock.now
        var results = [JSONValue](repeating: .null, count: calls.count)
        await withTaskGroup(of: (Int, CallOutcome).self) { group in
            var next = 0
            func launch() {
                let index = next
                let call = calls[index]
                next += 1
                group.addTask { [executor] in (index, await executor.run(call)) }
            }
            while next < min(limit, calls.count) { launch() }
            while let (index, outcome) = await group.next() {
                switch outcome {
                case .result(let result):
                    results[index] = result
                case .failure(let error):
                    results[index] = ToolExecutor.callToolResult(
                        .failure(error.message), durationMs: (executor.clock.now - started).milliseconds, attempts: 1,
                        error: error)
                }
                if next < calls.count { launch() }
            }
        }
        if Task.isCancelled { throw .cancelled() }
        return ["results": .array(results)]
    }

    // MARK: - Parameters

    private func requestDeadline(_ reader: ParamReader) throws(ToolformerError) -> Duration {
        let cap = settings.withLock { $0.maxRequest }
        let requested = try reader.optionalPositiveInt("timeoutMs").map { Duration.milliseconds($0) }
        return executor.clock.now + min(requested ?? cap, cap)
    }

    /// Checks one call's name, arguments and timeout; `field` prefixes the names in errors.
    private func prepare(
        _ reader: ParamReader, field: String, callID: String, deadline requestDeadline: Duration, context: RequestContext
    ) throws(ToolformerError) -> ToolCall {
        let name = try reader.requiredString("name", prefix: field)
        guard let entry = registry.entry(named: name) else { throw ToolformerError.unknownTool(name).with("field", .string(field + "name")) }
        let arguments = try reader.optionalObject("arguments", prefix: field) ?? [:]
        try SchemaCheck.validate(arguments, against: entry.tool.definition.inputSchema, path: field + "arguments")
        var deadline = requestDeadline
        if !field.isEmpty, let own = try reader.optionalPositiveInt("timeoutMs", prefix: field) {
            deadline = min(deadline, executor.clock.now + .milliseconds(own))
        }
        if let mode = try reader.optionalString("cache", prefix: field), !["use", "bypass", "refresh"].contains(mode) {
            throw .invalidParams("\(field)cache must be \"use\", \"bypass\" or \"refresh\"", field: field + "cache")
        }
        return ToolCall(
            entry: entry, arguments: arguments, callID: callID, owner: context.connectionID, deadline: deadline,
            events: context.events)
    }
}
