public import ToolformerProtocol

/// One message of a conversation, in a neutral form each provider maps to its own wire format.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable, Equatable {
        case system, user, assistant, tool
    }

    public var role: Role
    /// The text; for a `tool` message, the tool's result as text.
    public var text: String
    /// What an `assistant` message asked for.
    public var toolCalls: [ModelToolCall]
    /// For a `tool` message: the id of the call it answers (`tool_call_id` / `tool_use_id`).
    public var toolCallID: String?
    /// For a `tool` message: whether the result is an error (Anthropic's `is_error`).
    public var isError: Bool

    public init(role: Role, text: String, toolCalls: [ModelToolCall] = [], toolCallID: String? = nil, isError: Bool = false) {
        self.role = role
        self.text = text
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.isError = isError
    }

    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, text: text) }
    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, text: text) }

    public static func toolResult(id: String, text: String, isError: Bool) -> ChatMessage {
        ChatMessage(role: .tool, text: text, toolCallID: id, isError: isError)
    }

    /// A stable JSON form, for cache keys and logs of shape (never of secrets: messages hold none).
    public var json: JSONValue {
        var object: JSONObject = ["role": .string(role.rawValue), "text": .string(text)]
        if !toolCalls.isEmpty { object["toolCalls"] = .array(toolCalls.map(\.json)) }
        if let toolCallID { object["toolCallId"] = .string(toolCallID) }
        if isError { object["isError"] = true }
        return .object(object)
    }
}

/// A tool call a model asked for.
public struct ModelToolCall: Sendable, Equatable {
    /// The provider's id for it, echoed back with the result.
    public var id: String
    public var name: String
    /// The arguments as the model wrote them (OpenAI sends a JSON string, Anthropic an object).
    public var rawArguments: String
    /// The arguments if they are a JSON object; nil when the model wrote something else.
    public var arguments: JSONObject?

    public init(id: String, name: String, rawArguments: String, arguments: JSONObject?) {
        self.id = id
        self.name = name
        self.rawArguments = rawArguments
        self.arguments = arguments
    }

    public var json: JSONValue {
        ["id": .string(id), "name": .string(name), "arguments": arguments.map { .object($0) } ?? .string(rawArguments)]
    }
}

/// Tokens a request used, as the provider reported them.
public struct TokenUsage: Sendable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int

    public init(inputTokens: Int = 0, outputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }

    public static func + (lhs: TokenUsage, rhs: TokenUsage) -> TokenUsage {
        TokenUsage(inputTokens: lhs.inputTokens + rhs.inputTokens, outputTokens: lhs.outputTokens + rhs.outputTokens)
    }

    public var total: Int { inputTokens + outputTokens }
    public var json: JSONValue { ["inputTokens": .int(Int64(inputTokens)), "outputTokens": .int(Int64(outputTokens))] }
}

/// One request to a model: the conversation so far and the tools it may call.
public struct LLMRequest: Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    public var tools: [ToolDefinition]
    public var maxTokens: Int

    public init(model: String, messages: [ChatMessage], tools: [ToolDefinition], maxTokens: Int = 4096) {
        self.model = model
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
    }

    /// The request in a canonical form, for the LLM response cache's key.
    public var json: JSONValue {
        [
            "model": .string(model), "maxTokens": .int(Int64(maxTokens)), "messages": .array(messages.map(\.json)),
            "tools": .array(tools.map(\.listEntry)),
        ]
    }
}

/// A model's answer: text, tool calls, or both.
public struct LLMResponse: Sendable, Equatable {
    public var text: String
    public var toolCalls: [ModelToolCall]
    public var usage: TokenUsage
    /// The provider's own stop reason (`stop`, `tool_calls`, `end_turn`, `tool_use`, ...).
    public var stopReason: String
    /// The model that answered, as the provider named it.
    public var model: String

    public init(text: String, toolCalls: [ModelToolCall], usage: TokenUsage, stopReason: String, model: String) {
        self.text = text
        self.toolCalls = toolCalls
        self.usage = usage
        self.stopReason = stopReason
        self.model = model
    }

    public var json: JSONValue {
        [
            "text": .string(text), "toolCalls": .array(toolCalls.map(\.json)), "usage": usage.json,
            "stopReason": .string(stopReason), "model": .string(model),
        ]
    }

    public init?(json: JSONValue) {
        guard let text = json["text"]?.stringValue, let calls = json["toolCalls"]?.arrayValue,
            let stop = json["stopReason"]?.stringValue, let model = json["model"]?.stringValue
        else { return nil }
        self.text = text
        toolCalls = calls.compactMap { call in
            guard let id = call["id"]?.stringValue, let name = call["name"]?.stringValue else { return nil }
            switch call["arguments"] {
            case .object(let object)?: return ModelToolCall(id: id, name: name, rawArguments: JSONWriter.string(.object(object)), arguments: object)
            case .string(let raw)?: return ModelToolCall(id: id, name: name, rawArguments: raw, arguments: nil)
            default: return nil
            }
        }
        usage = TokenUsage(
            inputTokens: Int(json["usage"]?["inputTokens"]?.intValue ?? 0),
            outputTokens: Int(json["usage"]?["outputTokens"]?.intValue ?? 0))
        stopReason = stop
        self.model = model
    }
}

/// A provider request that failed. `retryable` failures (429, 5xx, timeouts, refused connections)
/// are retried with backoff, never sooner than `retryAfter`; the others go to the next provider.
/// `message` never holds a secret: providers build it from the status and the error body's
/// message, never from request headers.
public struct ProviderFailure: Error, Sendable, CustomStringConvertible {
    public var status: Int?
    public var message: String
    public var retryable: Bool
    public var retryAfter: Duration?

    public init(status: Int?, message: String, retryable: Bool, retryAfter: Duration? = nil) {
        self.status = status
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { status.map { "HTTP \($0): \(message)" } ?? message }
}

/// An LLM API: OpenAI-compatible Chat Completions, Anthropic Messages, or the offline mock.
///
/// `complete` makes one request (retries, fallback, budgets and caching are the caller's), honours
/// task cancellation by aborting the request, and throws ``ProviderFailure``.
public protocol LLMProvider: Sendable {
    /// The configured name (`[providers.NAME]`).
    var name: String { get }
    /// The model used when a request names none.
    var defaultModel: String { get }
    func complete(_ request: LLMRequest) async throws -> LLMResponse
}
