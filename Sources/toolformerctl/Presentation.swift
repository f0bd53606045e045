import ToolformerProtocol

/// What call, batch and orchestrate print, from `LiveOptions`, `--json` and the terminal.
enum Presentation: Equatable {
    /// The result as one JSON line; with `events`, every event as a line before it.
    case json(events: Bool)
    /// Events drawn as they arrive, then the result for people.
    case live
    /// The result for people, nothing while it runs.
    case plain

    /// Whether the request asks for events (`stream: true`): only when something shows them.
    var wantsEvents: Bool { self != .plain && self != .json(events: false) }

    /// An event as an NDJSON line (`--events`), or to the live display, or nowhere.
    func show(_ event: JSONObject, live: (JSONObject) -> Void) {
        switch self {
        case .json(events: true): Output.line(JSONValue.object(event).description)
        case .live: live(event)
        case .json(events: false), .plain: break
        }
    }
}
