import ToolformerCore
import ToolformerProtocol

/// The Messages API wire format.
///
/// Request: `model`, `max_tokens` (required), `system` as a top-level string (left out when
/// there is none), `messages` of `user` and `assistant` turns only, and `tools` as
/// `{name, description, input_schema}` (left out when empty). A tool call is an assistant
/// `tool_use` block (`id`, `name`, `input` object); its result a `tool_result` block (`tool_use_id`,
/// `content`, `is_error`) in the next user turn, all results of one turn in one user message and
/// before any text there. Response: `content` blocks (`text`, `tool_use`), `stop_reason`,
/// `usage.input_tokens` / `output_tokens`, `model`.
extension AnthropicProvider {
    private struct Turn {
        var role: String
        var blocks: [JSONValue]
    }

    static func body(for request: LLMRequest, model: String) throws(ProviderFailure) -> [UInt8] {
        var system: [String] = []
        var turns: [Turn] = []
        func append(_ role: String, _ block: JSONValue) {
            // Consecutive messages of one role become one turn: the API wants them alternating,
            // and the results of parallel calls in a single user message.
            if turns.last?.role == role {
                turns[turns.count - 1].blocks.append(block)
            } else {
                turns.append(Turn(role: role, blocks: [block]))
            }
        }

        for (index, message) in request.messages.enumerated() {
            switch message.role {
            case .system:
                if !message.text.isEmpty { system.append(message.text) }
            case .user:
                // The API refuses empty text blocks.
                if !message.text.isEmpty { append("user", ["type": "text", "text": .string(message.text)]) }
            case .assistant:
                if !message.text.isEmpty { append("assistant", ["type": "text", "text": .string(message.text)]) }
                for call in message.toolCalls {
                    append(
                        "assistant",
                        [
                            "type": "tool_use", "id": .string(call.id), "name": .string(call.name),
                            "input": .object(input(of: call)),
                        ])
                }
            case .tool:
                guard let id = message.toolCallID else {
                    throw ProviderFailure(
                        status: nil, message: "messages[\(index)]: a tool result without the id of its call",
                        retryable: false)
                }
                var block: JSONObject = [
                    "type": "tool_result", "tool_use_id": .string(id), "content": .string(message.text),
                ]
                if message.isError { block["is_error"] = true }
                append("user", .object(block))
            }
        }

        let messages: [JSONValue] = turns.map { turn in
            var blocks = turn.blocks
            if turn.role == "user" {
                // Results first: the API rejects a user turn where text precedes them.
                let results = blocks.filter { $0["type"]?.stringValue == "tool_result" }
                if !results.isEmpty { blocks = results + blocks.filter { $0["type"]?.stringValue != "tool_result" } }
            }
            if blocks.count == 1, blocks[0]["type"]?.stringValue == "text", let text = blocks[0]["text"] {
                return ["role": .string(turn.role), "content": text]
            }
            return ["role": .string(turn.role), "content": .array(blocks)]
        }

        var body: JSONObject = ["model": .string(model), "max_tokens": .int(Int64(max(1, request.maxTokens)))]
        if !system.isEmpty { body["system"] = .string(system.joined(separator: "\n\n")) }
        body["messages"] = .array(messages)
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    [
                        "name": .string(tool.name), "description": .string(tool.description),
                        "input_schema": tool.inputSchema.objectValue != nil ? tool.inputSchema : ["type": "object"],
                    ]
                })
        }
        return JSONWriter.bytes(.object(body))
    }

    /// `input` must be an object. A call another provider made with arguments that were not one
    /// (OpenAI's are free text) is sent with its text parsed, or as an empty object.
    private static func input(of call: ModelToolCall) -> JSONObject {
        if let arguments = call.arguments { return arguments }
        return (try? JSONParser(maxDepth: 128).parse(call.rawArguments))?.objectValue ?? [:]
    }

    static func response(
        from body: [UInt8], requestedModel: String, transport: ProviderTransport
    ) throws(ProviderFailure) -> LLMResponse {
        guard let root = try? JSONParser(maxDepth: 128).parse(body), root.objectValue != nil else {
            throw transport.malformed("the body is not a JSON object")
        }
        guard let content = root["content"]?.arrayValue else {
            throw transport.embeddedError(root, status: 200) ?? transport.malformed("no content array")
        }
        var text = ""
        var toolCalls: [ModelToolCall] = []
        for (index, block) in content.enumerated() {
            switch block["type"]?.stringValue {
            case "text":
                text += block["text"]?.stringValue ?? ""
            case "tool_use":
                guard let id = block["id"]?.stringValue, !id.isEmpty, let name = block["name"]?.stringValue,
                    !name.isEmpty
                else {
                    throw transport.malformed("content[\(index)] is a tool_use block without an id or a name")
                }
                let input = block["input"] ?? [:]
                toolCalls.append(
                    ModelToolCall(
                        id: id, name: name, rawArguments: JSONWriter.string(input), arguments: input.objectValue))
            default:
                // thinking, redacted_thinking, server tool blocks: nothing the caller acts on.
                continue
            }
        }
        let usage = root["usage"]
        return LLMResponse(
            text: text, toolCalls: toolCalls,
            usage: TokenUsage(
                inputTokens: usage?["input_tokens"]?.integer ?? 0, outputTokens: usage?["output_tokens"]?.integer ?? 0),
            stopReason: root["stop_reason"]?.stringValue ?? "",
            model: root["model"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? requestedModel)
    }
}
