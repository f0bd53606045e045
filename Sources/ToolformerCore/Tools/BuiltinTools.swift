import ToolformerProtocol
import Foundation

/// `echo`: returns its arguments.
struct EchoTool: Tool {
    let definition: ToolDefinition

    init(name: String, description: String?) {
        definition = ToolDefinition(
            name: name, description: description ?? "Returns its arguments.",
            inputSchema: ["type": "object"])
    }

    func call(_ arguments: JSONObject) async throws -> ToolOutput { .json(.object(arguments)) }
}

/// `sleep`: waits `ms` milliseconds, and stops at once when cancelled.
struct SleepTool: Tool {
    static let maxMilliseconds: Int64 = 86_400_000
    let definition: ToolDefinition

    init(name: String, description: String?) {
        definition = ToolDefinition(
            name: name, description: description ?? "Waits the given number of milliseconds.",
            inputSchema: [
                "type": "object",
                "properties": ["ms": ["type": "integer", "minimum": 0, "maximum": .int(Self.maxMilliseconds)]],
                "required": ["ms"],
            ])
    }

    func call(_ arguments: JSONObject) async throws -> ToolOutput {
        let ms = arguments["ms"]?.intValue ?? 0
        try await CancellableSleep.until(.now + .milliseconds(ms))
        // What .json(["sleptMs": ms]) gives, without a writer per call: the text is a small string.
        return ToolOutput(text: "{\"sleptMs\":\(ms)}", structuredContent: .object(JSONObject(uniquePairs: [("sleptMs", .int(ms))])))
    }
}

/// `now`: the current time.
struct NowTool: Tool {
    let definition: ToolDefinition

    init(name: String, description: String?) {
        definition = ToolDefinition(
            name: name, description: description ?? "The current time (UTC).", inputSchema: ["type": "object"])
    }

    func call(_ arguments: JSONObject) async throws -> ToolOutput {
        let now = Date()
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return .json([
            "unixMs": .int(Int64((now.timeIntervalSince1970 * 1000).rounded())),
            "iso8601": .string(formatter.string(from: now)),
        ])
    }
}
