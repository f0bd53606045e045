import ToolformerProtocol

/// What a scenario brings back: numbers for `--json`, a table for people, and the few values the
/// targets are judged on.
struct ScenarioOutcome {
    var name: String
    /// False when the daemon lacks what the scenario measures ("not available in this build").
    var available = true
    var note: String?
    var json: JSONObject = [:]
    var table = ""
    /// Values the targets read, by key (``Targets``).
    var metrics: [String: Double] = [:]
    var error: String?

    var jsonValue: JSONValue {
        var object = json
        object["available"] = .bool(available)
        if let note { object["note"] = .string(note) }
        if let error { object["error"] = .string(error) }
        return .object(object)
    }
}
