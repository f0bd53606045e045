import ToolformerProtocol

/// What a `CallToolResult` says, for human output.
struct ToolResult {
    let raw: JSONValue

    init(_ raw: JSONValue) { self.raw = raw }

    var isError: Bool { raw["isError"]?.boolValue == true }
    var cached: Bool { meta?["cached"]?.boolValue == true }
    var durationMs: Int64? { meta?["durationMs"]?.intValue }
    private var meta: JSONValue? { raw["_meta"]?["toolformer"] }

    /// The text blocks joined; other blocks as `[type]`.
    var text: String {
        guard let content = raw["content"]?.arrayValue else { return "" }
        return content.map { block in
            if block["type"] == "text" { return block["text"]?.stringValue ?? "" }
            return "[\(block["type"]?.stringValue ?? "content")]"
        }.joined(separator: "\n")
    }

    /// Why it failed: the request-level error a batch call carries, else the tool's text.
    var errorMessage: String {
        if let error = meta?["error"], let message = error["message"]?.stringValue {
            let name = error["data"]?["name"]?.stringValue
            return name.map { "\($0): \(message)" } ?? message
        }
        let text = text
        return text.isEmpty ? "failed" : text
    }
}
