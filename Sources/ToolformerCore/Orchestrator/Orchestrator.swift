public import Logging
public import ToolformerProtocol
import Synchronization

/// Runs tool calls for every client of the daemon.
///
/// State that outlives a client (the tool registry, what is in flight) lives here, behind locks,
/// so the socket layer stays a thin translator.
public final class Orchestrator: Sendable {
    public struct Settings: Sendable {
        public var maxRequest: Duration
        public init(maxRequest: Duration) { self.maxRequest = maxRequest }
        public init(_ config: ToolformerConfig) {
            maxRequest = .milliseconds(config.orchestrator.maxRequestMs)
        }
    }

    public let registry: ToolRegistry
    private let settings: Mutex<Settings>
    private let inflightByTool = Mutex<[String: Int]>([:])
    private let logger: Logger

    public init(registry: ToolRegistry, settings: Settings, logger: Logger) {
        self.registry = registry
        self.settings = Mutex(settings)
        self.logger = logger
    }

    /// Applies a reloaded configuration's orchestrator settings (the registry is swapped by its owner).
    public func update(_ newSettings: Settings) { settings.withLock { $0 = newSettings } }

    /// Registers `tools/list` and `tools/call`.
    public func register(in table: inout MethodTable) {
        table.register("tools/list", .immediate { [self] params, _ throws(ToolformerError) in try listTools(params) })
        table.register("tools/call", .async { [self] params, context throws(ToolformerError) in
            try await callTool(params, context: context)
        })
    }

    /// For the watchdog: proves a task can be scheduled and this object's locks are free.
    public func probe() async -> Bool {
        await Task.yield()
        _ = inflightByTool.withLock { $0.count }
        return registry.count >= 0
    }

    /// `daemon/status`'s view of the orchestrator.
    public func status() -> JSONObject {
        let inflight = inflightByTool.withLock { $0 }
        var perTool = JSONObject()
        for (name, count) in inflight.sorted(by: { $0.key < $1.key }) where count > 0 { perTool[name] = .int(Int64(count)) }
        return ["tools": .int(Int64(registry.count)), "inflightByTool": .object(perTool)]
    }

    func listTools(_ params: JSONObject) throws(ToolformerError) -> JSONValue {
        if let cursor = params["cursor"], !cursor.isNull, cursor.stringValue == nil {
            throw .invalidParams("cursor must be a string", field: "cursor")
        }
        return ["tools": .array(registry.all().map(\.tool.definition.listEntry))]
    }

    func callTool(_ params: JSONObject, context: RequestContext) async throws(ToolformerError) -> JSONValue {
        guard case .string(let name)? = params["name"] else {
            throw .invalidParams("name must be a string", field: "name")
        }
        guard let entry = registry.entry(named: name) else { throw .unknownTool(name) }
        let arguments: JSONObject
        switch params["arguments"] {
        case nil, .null?: arguments = [:]
        case .object(let object)?: arguments = object
        case let other?: throw .invalidParams("arguments must be an object, not \(other.typeName)", field: "arguments")
        }
        let requestLimit = try requestTimeout(params)
        try SchemaCheck.validate(arguments, against: entry.tool.definition.inputSchema)

        context.events.emit("tool.started", ["callId": "0", "name": .string(name), "attempt": 1])
        inflightByTool.withLock { $0[name, default: 0] += 1 }
        defer { inflightByTool.withLock { $0[name, default: 1] -= 1 } }

        let started = ContinuousClock.now
        let outcome = await Self.run(entry, arguments, toolTimeout: entry.timeout, requestTimeout: requestLimit)
        let duration = ContinuousClock.now - started
        let durationMs = Int64(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)

        let output: ToolOutput
        switch outcome {
        case .finished(let result): output = result
        case .toolTimedOut: output = .failure("tool \(name) timed out after \(entry.timeout)")
        case .requestTimedOut: throw .timeout("the request's deadline (\(requestLimit)) passed")
        case .cancelled: throw .cancelled()
        case .failed(let message): output = .failure(message)
        }
        let result = Self.callToolResult(output, durationMs: durationMs)
        context.events.emit("tool.finished", [
            "callId": "0", "name": .string(name), "isError": .bool(output.isError), "cached": false,
            "durationMs": .int(durationMs), "result": result,
        ])
        context.logger.debug("tool call finished", metadata: [
            "tool.name": "\(name)", "tool.is_error": "\(output.isError)", "duration.ms": "\(durationMs)",
        ])
        return result
    }

    private func requestTimeout(_ params: JSONObject) throws(ToolformerError) -> Duration {
        let cap = settings.withLock { $0.maxRequest }
        switch params["timeoutMs"] {
        case nil, .null?: return cap
        case .int(let ms)? where ms > 0: return min(.milliseconds(ms), cap)
        default: throw .invalidParams("timeoutMs must be a positive integer", field: "timeoutMs")
        }
    }

    enum Outcome: Sendable {
        case finished(ToolOutput)
        case toolTimedOut
        case requestTimedOut
        case cancelled
        case failed(String)
    }

    /// Runs a tool against its own limit and the request's; whichever passes first ends it, and the
    /// tool's task is cancelled (so it stops its process or request) before this returns.
    static func run(
        _ entry: ToolRegistry.Entry, _ arguments: JSONObject, toolTimeout: Duration, requestTimeout: Duration
    ) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    return .finished(try await entry.tool.call(arguments))
                } catch is CancellationError {
                    return nil
                } catch {
                    return .failed("\(error)")
                }
            }
            group.addTask {
                let limit = min(toolTimeout, requestTimeout)
                do { try await Task.sleep(for: limit) } catch { return nil }
                return toolTimeout <= requestTimeout ? .toolTimedOut : .requestTimedOut
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if Task.isCancelled { return .cancelled }
            return first ?? .cancelled
        }
    }

    static func callToolResult(_ output: ToolOutput, durationMs: Int64, cached: Bool = false, attempts: Int = 1) -> JSONValue {
        var result: JSONObject = ["content": [["type": "text", "text": .string(output.text)]]]
        if let structured = output.structuredContent { result["structuredContent"] = structured }
        result["isError"] = .bool(output.isError)
        result["_meta"] = ["toolformer": [
            "cached": .bool(cached), "attempts": .int(Int64(attempts)), "durationMs": .int(durationMs),
        ]]
        return .object(result)
    }
}
