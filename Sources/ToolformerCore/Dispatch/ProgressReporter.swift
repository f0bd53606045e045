public import ToolformerProtocol

/// Turns a request's events into MCP's `notifications/progress` for a client that sent
/// `params._meta.progressToken`.
///
/// MCP wants `progress` to grow with every notification, and `total` only where it is known:
/// - `tools/call`: one step per event of the call (started, retry, rate-limit wait, hedge,
///   finished); at `tool.finished` `total` equals `progress`, so a host's bar reaches its end.
/// - `tools/batch`: `progress` is the number of calls finished (or cancelled by a `first` or
///   `quorum` decision), `total` the number of calls.
/// - `orchestrate`: one step per model turn answered and per tool call finished; no `total`,
///   since the model decides how many there will be.
public struct ProgressReporter: Sendable {
    enum Scope: Sendable, Equatable {
        case call
        case batch(total: Int)
        case orchestrate
    }

    /// The client's token, a string or an integer, echoed as it came.
    public let token: JSONValue
    let scope: Scope
    private var progress: Int64 = 0
    private var finishedCalls: Set<String> = []
    /// A call's retry and wait events do not carry its name; its started event does.
    private var callName = "tool"

    /// The token of a request, nil when it has none; -32602 when `_meta` or the token has a type
    /// MCP does not allow.
    public static func token(in params: JSONObject) throws(ToolformerError) -> JSONValue? {
        guard let meta = params["_meta"] else { return nil }
        guard case .object(let object) = meta else {
            throw .invalidParams("_meta must be an object", field: "_meta")
        }
        switch object["progressToken"] {
        case nil: return nil
        case .string(let token)?: return .string(token)
        case .int(let token)?: return .int(token)
        default: throw .invalidParams("_meta.progressToken must be a string or an integer", field: "_meta.progressToken")
        }
    }

    /// A reporter for `method`, or nil for methods that answer without progress.
    public init?(method: String, params: JSONObject, token: JSONValue) {
        switch method {
        case "tools/call": scope = .call
        case "tools/batch": scope = .batch(total: params["calls"]?.arrayValue?.count ?? 0)
        case "orchestrate": scope = .orchestrate
        default: return nil
        }
        self.token = token
    }

    /// The params of the `notifications/progress` that `event` causes, if any.
    public mutating func notification(for type: String, _ fields: JSONObject) -> JSONObject? {
        if scope == .call, let started = fields["name"]?.stringValue { callName = started }
        let name = fields["name"]?.stringValue ?? (scope == .call ? callName : "tool")
        var total: Int64?
        let message: String
        switch (scope, type) {
        case (.call, "tool.started"):
            let attempt = fields["attempt"]?.intValue ?? 1
            message = attempt > 1 ? "\(name): attempt \(attempt)" : "\(name): started"
        case (.call, "tool.retry"):
            let delay = fields["delayMs"]?.intValue ?? 0
            message = "\(name): retrying in \(delay) ms (\(fields["reason"]?.stringValue ?? "failed"))"
        case (.call, "ratelimit.wait"):
            message = "waiting \(fields["waitMs"]?.intValue ?? 0) ms for rate limit \(fields["bucket"]?.stringValue ?? "")"
        case (.call, "tool.hedge"):
            message = "\(name): no answer after \(fields["afterMs"]?.intValue ?? 0) ms, sent a hedged attempt"
        case (.call, "tool.finished"):
            total = progress + 1
            message = Self.finished(name, fields)
        case (.batch(let count), "tool.finished"), (.batch(let count), "tool.cancelled"):
            // A call stopped by a decision may report both; it counts once.
            guard let callID = fields["callId"]?.stringValue, finishedCalls.insert(callID).inserted else { return nil }
            total = Int64(count)
            message = type == "tool.cancelled"
                ? "\(name): cancelled (\(finishedCalls.count) of \(count))"
                : "\(Self.finished(name, fields)) (\(finishedCalls.count) of \(count))"
            progress = Int64(finishedCalls.count) - 1
        case (.orchestrate, "llm.finished"):
            let calls = fields["toolCalls"]?.intValue ?? 0
            message = "turn \(fields["turn"]?.intValue ?? 0): the model asked for \(calls) tool call\(calls == 1 ? "" : "s")"
        case (.orchestrate, "tool.finished"):
            message = Self.finished(name, fields)
        default:
            return nil
        }
        progress += 1
        var params: JSONObject = ["progressToken": token, "progress": .int(progress)]
        if let total { params["total"] = .int(total) }
        params["message"] = .string(message)
        return params
    }

    private static func finished(_ name: String, _ fields: JSONObject) -> String {
        let how = fields["isError"] == true ? "failed" : fields["cached"] == true ? "answered from the cache" : "finished"
        return "\(name): \(how) in \(fields["durationMs"]?.intValue ?? 0) ms"
    }
}
