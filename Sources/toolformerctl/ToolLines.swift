import ToolformerProtocol

/// The live display of call and orchestrate: a line per tool start, retry, wait and finish, and per
/// model turn.
///
/// ```
/// ▸ echo started
/// ✓ echo 3 ms (cached)
/// ✗ sleep: timed out after 50 ms
/// ```
final class ToolLines {
    /// Tool names by callId: retries and waits name only the call.
    private var names: [String: String] = [:]
    private var turnStarted: ContinuousClock.Instant?

    func show(_ event: JSONObject) {
        let callID = event["callId"]?.stringValue ?? ""
        if let name = event["name"]?.stringValue { names[callID] = name }
        let name = names[callID] ?? event["name"]?.stringValue ?? "tool"
        switch event["type"]?.stringValue {
        case "tool.started":
            let attempt = event["attempt"]?.intValue ?? 1
            Output.line(attempt > 1 ? "▸ \(name) started (attempt \(attempt))" : "▸ \(name) started")
        case "tool.retry":
            var line = "↻ \(name) retrying"
            if let attempt = event["attempt"]?.intValue { line += " (attempt \(attempt))" }
            if let delay = event["delayMs"]?.intValue { line += " in \(delay) ms" }
            if let reason = event["reason"]?.stringValue { line += ": " + Format.oneLine(reason, limit: 100) }
            Output.line(line)
        case "ratelimit.wait":
            let bucket = event["bucket"]?.stringValue ?? "?"
            Output.line("… \(name) waiting \(event["waitMs"]?.intValue ?? 0) ms for rate limit \(bucket)")
        case "tool.finished":
            let result = event["result"].map(ToolResult.init)
            if event["isError"]?.boolValue == true {
                Output.line("✗ \(name): " + Format.oneLine(result?.errorMessage ?? "failed", limit: 120))
            } else {
                let ms = event["durationMs"]?.intValue ?? result?.durationMs ?? 0
                Output.line("✓ \(name) \(ms) ms" + (event["cached"]?.boolValue == true ? " (cached)" : ""))
            }
        case "llm.started":
            turnStarted = ContinuousClock.now
            let provider = event["provider"]?.stringValue ?? "?"
            let model = event["model"]?.stringValue ?? "?"
            Output.line("◆ turn \(event["turn"]?.intValue ?? 0): asking \(provider) (\(model))")
        case "llm.finished":
            let calls = event["toolCalls"]?.intValue ?? 0
            var line = "  " + (calls == 0 ? "answered" : "\(calls) tool call\(calls == 1 ? "" : "s")")
            if let usage = event["usage"] {
                line += ", \(usage["inputTokens"]?.intValue ?? 0) in / \(usage["outputTokens"]?.intValue ?? 0) out tokens"
            }
            if let turnStarted { line += ", " + Format.elapsed(ContinuousClock.now - turnStarted) }
            Output.line(line)
        default:
            break
        }
    }
}
