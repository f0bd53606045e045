import ToolformerCore
import ToolformerProtocol

/// The Chat Completions wire format.
///
/// Request: `model`, `messages` (`system`, `user`, `assistant` with `tool_calls` whose
/// `function.arguments` is a JSON *string* and `content` null when there is no text, `tool` with
/// `tool_call_id`), `tools` as `{"type":"function","function":{name, description, parameters}}`
/// (left out when empty) and the output cap. Response: `choices[0].message.content` and
/// `.tool_calls`, `choices[0].finish_reason`, `usage.prompt_tokens` / `completion_tokens`, `model`.
extension OpenAIProvider {
    static func body(for request: LLMRequest, model: String, maxTokensField: String) throws(ProviderFailure) -> [UInt8]
    {
        var messages: [JSONValue] = []
        messages.reserveCapacity(request.messages.count)
        for (index, message) in request.messages.enumerated() {
            switch message.role {
            case .system, .user:
                messages.append(["role": .string(message.role.rawValue), "content": .string(message.text)])
            case .assistant:
                var object: JSONObject = ["role": "assistant"]
                if message.toolCalls.isEmpty {
                    object["content"] = .string(message.text)
                } else {
                    object["content"] = message.text.isEmpty ? .null : .string(message.text)
                    object["tool_calls"] = .array(message.toolCalls.map(wireToolCall))
                }
                messages.append(.object(object))
            case .tool:
                guard let id = message.toolCallID else {
                    throw ProviderFailure(
                        status: nil, message: "messages[\(index)]: a tool result without the id of its call",
                        retryable: false)
                }
                messages.append(["role": "tool", "tool_call_id": .string(id), "content": .string(message.text)])
            }
        }
        var body: JSONObject = ["model": .string(model), "messages": .array(messages)]
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    [
                        "type": "function",
                        "function": [
                            "name": .string(tool.name), "description": .string(tool.description),
                            "parameters": tool.inputSchema.objectValue != nil ? tool.inputSchema : ["type": "object"],
                        ],
                    ]
                })
        }
        body[maxTokensField] = .int(Int64(max(1, request.maxTokens)))
        return JSONWriter.bytes(.object(body))
    }

    /// A call as the assistant message that made it: arguments as the model wrote them when it
    /// was this API, else the parsed object as JSON text (a call made by another provider).
    private static func wireToolCall(_ call: ModelToolCall) -> JSONValue {
        let arguments: String
        if !call.rawArguments.isEmpty {
            arguments = call.rawArguments
        } else {
            arguments = JSONWriter.string(.object(call.arguments ?? [:]))
        }
        return [
            "id": .string(call.id), "type": "function",
            "function": ["name": .string(call.name), "arguments": .string(arguments)],
        ]
    }

    static func response(
        from body: [UInt8], requestedModel: String, transport: ProviderTransport
    ) throws(ProviderFailure) -> LLMResponse {
        guard let root = try? JSONParser(maxDepth: 128).parse(body), root.objectValue != nil else {
            throw transport.malformed("the body is not a JSON object")
        }
        guard let choices = root["choices"]?.arrayValue else {
            throw transport.embeddedError(root, status: 200) ?? transport.malformed("no choices array")
        }
        guard let choice = choices.first?.objectValue else { throw transport.malformed("choices is empty") }
        guard let message = choice["message"]?.objectValue else {
            throw transport.malformed("choices[0] has no message")
        }

        var text = ""
        switch message["content"] {
        case .string(let content)?:
            text = content
        case .array(let parts)?:
            // Some compatible servers answer with content parts, as requests may send them.
            text = parts.compactMap { $0["text"]?.stringValue }.joined()
        default:
            break
        }
        if text.isEmpty, let refusal = message["refusal"]?.stringValue { text = refusal }

        var toolCalls: [ModelToolCall] = []
        if let calls = message["tool_calls"]?.arrayValue {
            for (index, call) in calls.enumerated() {
                guard let function = call["function"]?.objectValue, let name = function["name"]?.stringValue,
                    !name.isEmpty
                else {
                    throw transport.malformed("choices[0].message.tool_calls[\(index)] has no function name")
                }
                // The id is required, but some compatible servers leave it out; one is made up so
                // that the result can still be matched to its call.
                let id = call["id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "call_\(index)"
                toolCalls.append(toolCall(id: id, name: name, arguments: function["arguments"]))
            }
        }

        let usage = root["usage"]
        return LLMResponse(
            text: text, toolCalls: toolCalls,
            usage: TokenUsage(
                inputTokens: usage?["prompt_tokens"]?.integer ?? 0,
                outputTokens: usage?["completion_tokens"]?.integer ?? 0),
            stopReason: choice["finish_reason"]?.stringValue ?? "",
            model: root["model"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? requestedModel)
    }

    /// `arguments` is a JSON string that the model wrote and that need not be valid JSON: kept as
    /// written, and parsed when it holds an object. An empty or missing one means no arguments;
    /// an object in place of the string (some compatible servers) is taken as it is.
    static func toolCall(id: String, name: String, arguments: JSONValue?) -> ModelToolCall {
        switch arguments {
        case .string(let raw)?:
            if ProviderAPIKey.trimmed(raw).isEmpty {
                return ModelToolCall(id: id, name: name, rawArguments: raw, arguments: [:])
            }
            let parsed = (try? JSONParser(maxDepth: 128).parse(raw))?.objectValue
            return ModelToolCall(id: id, name: name, rawArguments: raw, arguments: parsed)
        case .object(let object)?:
            return ModelToolCall(
                id: id, name: name, rawArguments: JSONWriter.string(.object(object)), arguments: object)
        case nil, .null?:
            return ModelToolCall(id: id, name: name, rawArguments: "", arguments: [:])
        case let other?:
            return ModelToolCall(id: id, name: name, rawArguments: JSONWriter.string(other), arguments: nil)
        }
    }
}
