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
        public var maxTurns: Int
        /// `max_queued`: calls waiting for a slot, past which new ones are refused (-32002).
        public var maxQueued: Int
        /// `max_result_bytes`: a result's text beyond this is truncated, with a marker.
        public var maxResultBytes: Int

        public init(
            maxRequest: Duration, maxConcurrency: Int, maxTurns: Int = 8, maxQueued: Int = .max,
            maxResultBytes: Int = .max
        ) {
            self.maxRequest = maxRequest
            self.maxConcurrency = maxConcurrency
            self.maxTurns = maxTurns
            self.maxQueued = maxQueued
            self.maxResultBytes = maxResultBytes
        }

        public init(_ config: ToolformerConfig) {
            self.init(
                maxRequest: .milliseconds(config.orchestrator.maxRequestMs),
                maxConcurrency: config.orchestrator.maxConcurrency, maxTurns: config.orchestrator.maxTurns,
                maxQueued: config.orchestrator.maxQueued, maxResultBytes: config.orchestrator.maxResultBytes)
        }
    }

    public let registry: ToolRegistry
    public let executor: ToolExecutor
    public let cache: ResultCache
    /// LLM providers for `orchestrate`; without them the method is not registered.
    public let providers: ProviderRouter?
    private let flights = SingleFlight()
    /// Single-flight across daemons sharing a `[cluster]`; nil on a single host.
    private let leases: (any FlightLeases)?
    let settings: Mutex<Settings>
    let logger: Logger

    public init(
        registry: ToolRegistry, settings: Settings, clock: any ToolformerClock = SystemClock(),
        rateLimits: (any RateLimitStore)? = nil, cache: ResultCache, providers: ProviderRouter? = nil,
        metrics: any ToolformerMetrics = NoMetrics(), leases: (any FlightLeases)? = nil, logger: Logger
    ) {
        self.registry = registry
        self.leases = leases
        self.settings = Mutex(settings)
        self.cache = cache
        self.providers = providers
        self.logger = logger
        executor = ToolExecutor(
            clock: clock, rateLimits: rateLimits ?? LocalRateLimitStore(clock: clock),
            maxConcurrency: settings.maxConcurrency, metrics: metrics)
        executor.configure(
            maxConcurrency: settings.maxConcurrency, maxQueued: settings.maxQueued,
            maxResultBytes: settings.maxResultBytes, tools: registry.all())
    }

    /// Applies a configuration: its tools (calls in flight keep the ones they started with), limits
    /// and rate-limit buckets.
    public func reconfigure(_ config: ToolformerConfig, tools: [ToolRegistry.Entry]) async {
        let newSettings = Settings(config)
        await executor.rateLimits.configure(config.rateLimits)
        executor.configure(
            maxConcurrency: newSettings.maxConcurrency, maxQueued: newSettings.maxQueued,
            maxResultBytes: newSettings.maxResultBytes,
            tools: registry.all(replacing: ToolRegistry.configurationSource, with: tools))
        cache.apply(ResultCache.Settings(config.cache))
        registry.replace(with: tools)
        settings.withLock { $0 = newSettings }
    }

    /// Replaces one tool source's tools (an MCP server that listed its tools again), leaving the
    /// configured tools and other sources as they are.
    public func replaceTools(source: String, with tools: [ToolRegistry.Entry]) {
        let current = settings.withLock { $0 }
        executor.configure(
            maxConcurrency: current.maxConcurrency, maxQueued: current.maxQueued,
            maxResultBytes: current.maxResultBytes, tools: registry.all(replacing: source, with: tools))
        registry.replace(source: source, with: tools)
    }

    /// Registers `tools/list`, `tools/call` and `tools/batch`.
    public func register(in table: inout MethodTable) {
        table.register("tools/list", .immediate { [self] params, _ throws(ToolformerError) in try listTools(params) })
        table.register("tools/call", .asyncUnlessAnsweredAtOnce(
            { [self] params, context in callToolFromMemory(params, context: context) },
            { [self] params, context throws(ToolformerError) in try await callTool(params, context: context) }))
        table.register("tools/batch", .async { [self] params, context throws(ToolformerError) in
            try await batch(params, context: context)
        })
        if providers != nil {
            table.register("orchestrate", .async { [self] params, context throws(ToolformerError) in
                try await orchestrate(params, context: context)
            })
        }
        table.register("cache/clear", admin: true, .async { [self] params, _ throws(ToolformerError) in
            let tool = try ParamReader(params).optionalString("tool")
            let removed = await cache.clear(namespace: tool.map { "tool:" + $0 })
            return ["removed": .int(Int64(removed.memory)), "removedFromDisk": .int(Int64(removed.tier))]
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
        var cacheStatus = cache.status()
        cacheStatus["sharedInFlight"] = .int(Int64(flights.count))
        cacheStatus["sharedJoins"] = .int(Int64(flights.joinCount))
        status["cache"] = .object(cacheStatus)
        if let providers { status["providers"] = .object(providers.status()) }
        return status
    }

    // MARK: - Methods

    func listTools(_ params: JSONObject) throws(ToolformerError) -> JSONValue {
        let cursor = try ParamReader(params).optionalString("cursor")
        return try ToolListPage.page(registry.all(), cursor: cursor)
    }

    /// `tools/call` answered on the event loop from the memory tier, when the call is plainly a
    /// hit: a known tool with a TTL, valid arguments, the default cache mode. Anything else (a miss,
    /// a bad parameter, a lower tier to ask) is nil, and `callTool` runs in a task and answers it,
    /// errors included. A hit here is the same answer `callTool` would give, without its task.
    func callToolFromMemory(_ params: JSONObject, context: RequestContext) -> EncodedJSON? {
        // The same checks as callTool's, so a request either path answers is answered alike.
        let reader = ParamReader(params)
        guard let deadline = try? requestDeadline(reader),
            let call = try? prepare(reader, field: "", callID: "0", deadline: deadline, context: context),
            call.cacheMode == .use, call.entry.policy.cacheTTL > .zero,
            let hit = cache.lookupInMemory(CacheKey.tool(call.name, fingerprint: call.entry.fingerprint, arguments: call.arguments)),
            let result = Self.cachedResultBytes(hit)
        else { return nil }
        executor.metrics.toolCallFinished(tool: call.name, outcome: "cached", duration: .zero)
        if context.logger.logLevel <= .debug {
            // With the request's id, which the async path's logger carries; what the line reads of
            // the result is its _meta, which a memory hit always has the same.
            var logger = context.logger
            logger[metadataKey: "request.id"] = "\(context.connectionID).\(context.id)"
            Self.logCall(call, .result(Self.cachedResult(["content": []], durationMs: 0)), logger: logger)
        }
        return result
    }

    func callTool(_ params: JSONObject, context: RequestContext) async throws(ToolformerError) -> JSONValue {
        let reader = ParamReader(params)
        let deadline = try requestDeadline(reader)
        let call = try prepare(reader, field: "", callID: "0", deadline: deadline, context: context)
        // The request's own task: after the call it only answers.
        let outcome = await execute(call, ownsTask: true)
        Self.logCall(call, outcome, logger: context.logger)
        switch outcome {
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

        let mode = try BatchMode(reader, count: calls.count)
        let started = executor.clock.now
        var results = [JSONValue?](repeating: nil, count: calls.count)
        var succeeded: [Int] = []
        var failed = 0
        var decided = false
        await withTaskGroup(of: (Int, CallOutcome).self) { group in
            var next = 0
            func launch() {
                let index = next
                let call = calls[index]
                next += 1
                group.addTask { [self] in (index, await execute(call, ownsTask: true)) }
            }
            while next < min(limit, calls.count) { launch() }
            while let (index, outcome) = await group.next() {
                Self.logCall(calls[index], outcome, logger: context.logger)
                if decided {
                    // Stopped by the decision: say so, whatever it managed to return.
                    results[index] = Self.cancelledResult(callID: String(index), name: calls[index].name, started: started, clock: executor.clock, events: context.events)
                    continue
                }
                switch outcome {
                case .result(let result):
                    results[index] = result
                    if result["isError"] == false { succeeded.append(index) } else { failed += 1 }
                case .failure(let error):
                    let durationMs = (executor.clock.now - started).milliseconds
                    let result = ToolExecutor.callToolResult(.failure(error.message), durationMs: durationMs, attempts: 1, error: error)
                    results[index] = result
                    failed += 1
                    // Every call of a streamed batch ends with its tool.finished, failures too.
                    if context.events.isEnabled {
                        context.events.emit("tool.finished", [
                            "callId": .string(String(index)), "name": .string(calls[index].name), "isError": true,
                            "cached": false, "durationMs": .int(durationMs), "result": result,
                        ])
                    }
                }
                if mode.isDecided(succeeded: succeeded.count, failed: failed, total: calls.count) {
                    decided = true
                    group.cancelAll()
                    continue
                }
                if next < calls.count { launch() }
            }
        }
        if Task.isCancelled { throw .cancelled() }
        // Calls never started because the batch was decided first.
        for index in results.indices where results[index] == nil {
            results[index] = Self.cancelledResult(callID: String(index), name: calls[index].name, started: started, clock: executor.clock, events: context.events)
        }
        var response: JSONObject = ["results": .array(results.map { $0! })]
        if case .all = mode { return .object(response) }
        let met = mode.isMet(succeeded: succeeded.count)
        response["mode"] = .string(mode.name)
        response["succeeded"] = .int(Int64(succeeded.count))
        response["met"] = .bool(met)
        response["winners"] = .array(succeeded.map { .int(Int64($0)) })
        context.events.emit("batch.decided", [
            "mode": .string(mode.name), "met": .bool(met), "winners": .array(succeeded.map { .string(String($0)) }),
            "cancelled": .array(results.indices.filter { results[$0]?["_meta"]?["toolformer"]?["cancelled"] == true }.map { .string(String($0)) }),
        ])
        return .object(response)
    }

    /// `tools/batch`'s `mode`: run everything, or stop at the first success, or at a quorum.
    enum BatchMode {
        case all
        case first
        case quorum(Int)

        init(_ reader: ParamReader, count: Int) throws(ToolformerError) {
            switch try reader.optionalString("mode") ?? "all" {
            case "all": self = .all
            case "first": self = .first
            case "quorum":
                guard let needed = try reader.optionalPositiveInt("minSuccess") else {
                    throw .invalidParams("mode quorum needs minSuccess", field: "minSuccess")
                }
                guard needed <= count else {
                    throw .invalidParams("minSuccess \(needed) is more than the \(count) calls", field: "minSuccess")
                }
                self = .quorum(Int(needed))
            default:
                throw .invalidParams("mode must be \"all\", \"first\" or \"quorum\"", field: "mode")
            }
        }

        var name: String {
            switch self {
            case .all: "all"
            case .first: "first"
            case .quorum: "quorum"
            }
        }

        var needed: Int {
            switch self {
            case .all: .max
            case .first: 1
            case .quorum(let n): n
            }
        }

        func isMet(succeeded: Int) -> Bool { succeeded >= needed }

        /// Met, or certain never to be: the rest need not run.
        func isDecided(succeeded: Int, failed: Int, total: Int) -> Bool {
            if case .all = self { return false }
            return isMet(succeeded: succeeded) || total - failed < needed
        }
    }

    static func cancelledResult(callID: String, name: String, started: Duration, clock: any ToolformerClock, events: EventSink) -> JSONValue {
        events.emit("tool.cancelled", ["callId": .string(callID), "name": .string(name)])
        var result = ToolExecutor.callToolResult(
            .failure("cancelled: the batch was decided without it"), durationMs: (clock.now - started).milliseconds,
            attempts: 0)
        if case .object(var object) = result, case .object(var meta)? = object["_meta"], case .object(var own)? = meta["toolformer"] {
            own["cancelled"] = true
            meta["toolformer"] = .object(own)
            object["_meta"] = .object(meta)
            result = .object(object)
        }
        return result
    }

    /// One line per tool call at debug, carrying the request's id through its logger.
    static func logCall(_ call: ToolCall, _ outcome: CallOutcome, logger: Logger) {
        guard logger.logLevel <= .debug else { return }
        var metadata: Logger.Metadata = ["tool.name": "\(call.name)", "tool.call_id": "\(call.callID)"]
        switch outcome {
        case .result(let result):
            let meta = result["_meta"]?["toolformer"]
            metadata["tool.is_error"] = "\(result["isError"] == true)"
            metadata["tool.cached"] = "\(meta?["cached"] == true)"
            metadata["tool.attempts"] = "\(meta?["attempts"]?.intValue ?? 0)"
            metadata["duration.ms"] = "\(meta?["durationMs"]?.intValue ?? 0)"
        case .failure(let error):
            metadata["tool.error"] = "\(error.name)"
        }
        logger.debug("tool call", metadata: metadata)
    }

    // MARK: - Cache

    /// Runs a call through the cache: a hit is served without running; identical calls in flight
    /// share one run (single-flight); a successful result is stored for the tool's `cache_ttl_s`.
    /// Tools with no TTL, and `cache: "bypass"`, go straight to the executor. `ownsTask`: the
    /// calling task only answers the call afterwards (see ``ToolExecutor/run(_:ownsTask:)``).
    func execute(_ call: ToolCall, ownsTask: Bool = false) async -> CallOutcome {
        let ttl = call.entry.policy.cacheTTL
        guard ttl > .zero, call.cacheMode != .bypass else { return await executor.run(call, ownsTask: ownsTask) }
        return await executeThroughCache(call, ttl: ttl)
    }

    /// `execute` for a cacheable call. A function of its own so that its many locals are not part
    /// of the frame every uncached call allocates in its task.
    private func executeThroughCache(_ call: ToolCall, ttl: Duration) async -> CallOutcome {
        let key = CacheKey.tool(call.name, fingerprint: call.entry.fingerprint, arguments: call.arguments)
        let clock = executor.clock
        let started = clock.now

        if call.cacheMode == .use, let hit = await cache.lookup(key) {
            call.events.emit("tool.started", ["callId": .string(call.callID), "name": .string(call.name), "attempt": 1])
            let result = Self.cachedResult(hit, durationMs: (clock.now - started).milliseconds)
            executor.metrics.toolCallFinished(tool: call.name, outcome: "cached", duration: clock.now - started)
            call.events.emit("tool.finished", [
                "callId": .string(call.callID), "name": .string(call.name), "isError": false, "cached": true,
                "durationMs": .int((clock.now - started).milliseconds), "result": result,
            ])
            return .result(result)
        }

        // The shared run gets the longest life a request may have; each caller waits only until
        // its own deadline, and the run stops when nobody waits any more.
        var longest = call
        longest.deadline = clock.now + settings.withLock { $0.maxRequest }
        let shared = longest
        let cache = cache
        let executor = executor
        let deadline = call.deadline
        let flights = flights
        let leases = call.cacheMode == .use ? leases : nil
        return await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask {
                let (outcome, joined) = await flights.run(key, events: call.events, callID: call.callID) { events in
                    var attempt = shared
                    attempt.events = events
                    let run = attempt
                    let runHere: @Sendable () async -> CallOutcome = {
                        let outcome = await executor.run(run)
                        if case .result(let result) = outcome, result["isError"] == false {
                            await cache.store(key, Self.cacheable(result), ttl: ttl)
                        }
                        return outcome
                    }
                    guard let leases else { return await runHere() }
                    return await Self.runOnce(
                        key, run, leases: leases, cache: cache, clock: clock, metrics: executor.metrics, started: started, runHere)
                }
                guard joined, case .result(let result) = outcome else { return outcome }
                return .result(Self.markCached(result))
            }
            group.addTask {
                do { try await clock.sleep(until: deadline) } catch { return nil }
                return .failure(.timeout("the request's deadline passed after \((clock.now - started).milliseconds) ms"))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(.cancelled())
        }
    }

    /// Runs a call on one host of the cluster: this one if it gets the lease (or nobody
    /// coordinates now); otherwise waits for the host that has it, and serves its cached result.
    /// The wait is bounded by one attempt's timeout and the request's own deadline; after that, or
    /// when the other host ends without a result to share (an error is not cached), the call runs
    /// here after all, under a lease of its own if it can get one.
    static func runOnce(
        _ key: CacheKey, _ run: ToolCall, leases: any FlightLeases, cache: ResultCache, clock: any ToolformerClock,
        metrics: any ToolformerMetrics, started: Duration, _ runHere: @escaping @Sendable () async -> CallOutcome
    ) async -> CallOutcome {
        let giveUp = min(run.deadline, clock.now + run.entry.policy.timeout)
        while !Task.isCancelled {
            switch await leases.acquire(key) {
            case .acquired(let lease):
                return await leases.hold(lease, runHere)
            case .unavailable:
                return await runHere()
            case .produced:
                // Gone again between the check and the read (evicted, expired): run it here.
                if let hit = await sharedHit(key, run, cache: cache, clock: clock, metrics: metrics, started: started) { return hit }
                return await runHere()
            case .heldElsewhere:
                let released = await leases.waitForRelease(key, until: giveUp, clock: clock)
                if !released {
                    if let hit = await sharedHit(key, run, cache: cache, clock: clock, metrics: metrics, started: started) { return hit }
                    return await runHere()
                }
            }
            if let hit = await sharedHit(key, run, cache: cache, clock: clock, metrics: metrics, started: started) { return hit }
            if clock.now >= giveUp { return await runHere() }
        }
        return .failure(.cancelled())
    }

    /// Another host's result, read through the cache tiers, as a cached result with its events.
    private static func sharedHit(
        _ key: CacheKey, _ call: ToolCall, cache: ResultCache, clock: any ToolformerClock, metrics: any ToolformerMetrics,
        started: Duration
    ) async -> CallOutcome? {
        guard let hit = await cache.lookup(key) else { return nil }
        let durationMs = (clock.now - started).milliseconds
        metrics.toolCallFinished(tool: call.name, outcome: "cached", duration: clock.now - started)
        let result = cachedResult(hit, durationMs: durationMs)
        call.events.emit("tool.started", ["callId": .string(call.callID), "name": .string(call.name), "attempt": 1])
        call.events.emit("tool.finished", [
            "callId": .string(call.callID), "name": .string(call.name), "isError": false, "cached": true,
            "durationMs": .int(durationMs), "result": result,
        ])
        return .result(result)
    }

    /// What is kept of a result: its content, without the per-call `isError` and `_meta`. When
    /// the text is exactly the JSON of `structuredContent` (JSON tools), only the structured value
    /// is kept (`s`) and the text is rebuilt on a hit: half the bytes for the same answer.
    static func cacheable(_ result: JSONValue) -> JSONValue {
        if let structured = result["structuredContent"], result["content"] == [["type": "text", "text": .string(structured.description)]] {
            return ["s": structured]
        }
        var kept = JSONObject()
        kept["content"] = result["content"]
        kept["structuredContent"] = result["structuredContent"]
        return .object(kept)
    }

    static func cachedResult(_ stored: JSONValue, durationMs: Int64) -> JSONValue {
        var result: JSONObject
        if let structured = stored["s"] {
            result = ["content": [["type": "text", "text": .string(structured.description)]], "structuredContent": structured]
        } else {
            result = stored.objectValue ?? [:]
        }
        result["isError"] = false
        result["_meta"] = ["toolformer": ["cached": true, "attempts": 0, "durationMs": .int(durationMs)]]
        return .object(result)
    }

    /// `cachedResult(stored, durationMs: 0)` as ``JSONWriter`` writes it, spliced from the bytes
    /// the cache stored (``cacheable(_:)`` as written) without parsing them: a memory hit of
    /// `tools/call` parsed the stored value, wrote its structured content again for the text, then
    /// wrote the whole result. Nil for bytes of another shape (the caller parses them instead).
    static func cachedResultBytes(_ stored: [UInt8]) -> EncodedJSON? {
        guard stored.count >= 2, stored.first == UInt8(ascii: "{"), stored.last == UInt8(ascii: "}") else { return nil }
        let shortForm = Array(#"{"s":"#.utf8)
        var writer = JSONWriter(reservingCapacity: 2 * stored.count + 128)
        if stored.starts(with: shortForm) {
            stored.withUnsafeBufferPointer { all in
                let structured = UnsafeBufferPointer(rebasing: all[shortForm.count..<(all.count - 1)])
                writer.appendRaw(#"{"content":[{"type":"text","text":"#)
                writer.writeString(utf8: structured)
                writer.appendRaw(#"}],"structuredContent":"#)
                writer.appendRaw(bytes: structured)
                writer.appendRaw(",")
            }
        } else {
            // {"content":...,"structuredContent":...}, or {} when the result had neither.
            writer.appendRaw(bytes: stored.dropLast())
            if stored.count > 2 { writer.appendRaw(",") }
        }
        writer.appendRaw(#""isError":false,"_meta":{"toolformer":{"cached":true,"attempts":0,"durationMs":0}}}"#)
        return EncodedJSON(bytes: writer.bytes)
    }

    /// A result this caller did not run itself (it joined another's run).
    static func markCached(_ result: JSONValue) -> JSONValue {
        guard case .object(var object) = result, case .object(var meta)? = object["_meta"],
            case .object(var toolformer)? = meta["toolformer"]
        else { return result }
        toolformer["cached"] = true
        meta["toolformer"] = .object(toolformer)
        object["_meta"] = .object(meta)
        return .object(object)
    }

    // MARK: - Parameters

    func requestDeadline(_ reader: ParamReader) throws(ToolformerError) -> Duration {
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
        var mode = ToolCall.CacheMode.use
        if let raw = try reader.optionalString("cache", prefix: field) {
            guard let parsed = ToolCall.CacheMode(rawValue: raw) else {
                throw .invalidParams("\(field)cache must be \"use\", \"bypass\" or \"refresh\"", field: field + "cache")
            }
            mode = parsed
        }
        return ToolCall(
            entry: entry, arguments: arguments, callID: callID, owner: context.connectionID, deadline: deadline,
            events: context.events, cacheMode: mode)
    }
}
