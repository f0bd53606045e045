public import ToolformerProtocol

/// How a method runs.
public enum MethodHandler: Sendable {
    /// Cheap and non-blocking: runs inline where the request was read (the event loop), so `ping`
    /// and friends never pay for a task.
    case immediate(@Sendable (JSONObject, RequestContext) throws(ToolformerError) -> JSONValue)
    /// Anything that waits: runs in its own task, cancellable by `notifications/cancelled`, a
    /// disconnect or a drain.
    case async(@Sendable (JSONObject, RequestContext) async throws(ToolformerError) -> JSONValue)
    /// An async method that can often answer inline: the first closure runs on the event loop and
    /// returns the result, already encoded, when it has it at once (`tools/call` served from the
    /// memory cache), or nil to run the second in a task as `.async` would. The first never throws:
    /// every error comes from the async path, so both paths answer a request the same way.
    case asyncUnlessAnsweredAtOnce(
        @Sendable (JSONObject, RequestContext) -> EncodedJSON?,
        @Sendable (JSONObject, RequestContext) async throws(ToolformerError) -> JSONValue)
}

/// The dispatch point: every method the daemon serves, by name. Built once at start-up; each part of
/// the daemon (protocol core, orchestrator, ...) registers its own methods.
public struct MethodTable: Sendable {
    private var handlers: [String: MethodHandler] = [:]
    private var adminOnly: Set<String> = []

    public init() {}

    /// Registers `method`; `admin` methods need root or the admin lists.
    public mutating func register(_ method: String, admin: Bool = false, _ handler: MethodHandler) {
        precondition(handlers[method] == nil, "method \(method) registered twice")
        handlers[method] = handler
        if admin { adminOnly.insert(method) }
    }

    public func handler(for method: String) -> MethodHandler? { handlers[method] }
    public func requiresAdmin(_ method: String) -> Bool { adminOnly.contains(method) }
    public var methods: [String] { handlers.keys.sorted() }
}
