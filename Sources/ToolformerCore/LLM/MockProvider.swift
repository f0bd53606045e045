import ToolformerProtocol

/// The offline provider: deterministic, no network, for demos and tests.
///
/// It calls the tools the last user message names, written `name(key=value, ...)` or
/// `name({json})`, all in one turn; once their results are in, it answers with a line per call
/// (`name: result`). With no tool named, it answers the prompt back. The same prompt and results
/// always give the same answer.
public struct MockProvider: LLMProvider {
    public let name: String
    public let defaultModel = "mock"

    public init(name: String) { self.name = name }

    public func complete(_ request: LLMRequest) async throws -> LLMResponse {
        try Task.checkCancellation()
        let input = request.messages.reduce(0) { $0 + $1.text.utf8.count } / 4 + 1

        // Results of the calls it asked for: report them.
        if let lastAssistant = request.messages.lastIndex(where: { $0.role == .assistant }),
            !request.messages[lastAssistant].toolCalls.isEmpty
        {
            let calls = request.messages[lastAssistant].toolCalls
            let results = request.messages[(lastAssistant + 1)...].filter { $0.role == .tool }
            let lines = calls.map { call -> String in
                let result = results.first { $0.toolCallID == call.id }
                let marker = result?.isError == true ? " (error)" : ""
                return "\(call.name)\(marker): \(result?.text ?? "no result")"
            }
            let text = lines.joined(separator: "\n")
            return LLMResponse(
                text: text, toolCalls: [], usage: TokenUsage(inputTokens: input, outputTokens: text.utf8.count / 4 + 1),
                stopReason: "end_turn", model: request.model)
        }

        let prompt = request.messages.last { $0.role == .user }?.text ?? ""
        let calls = Self.toolCalls(in: prompt, known: Set(request.tools.map(\.name)), turn: request.messages.count)
        if calls.isEmpty {
            return LLMResponse(
                text: prompt, toolCalls: [], usage: TokenUsage(inputTokens: input, outputTokens: prompt.utf8.count / 4 + 1),
                stopReason: "end_turn", model: request.model)
        }
        return LLMResponse(
            text: "", toolCalls: calls, usage: TokenUsage(inputTokens: input, outputTokens: calls.count * 8),
            stopReason: "tool_use", model: request.model)
    }

    /// Every `name(...)` in `text` whose name is a known tool, in the order written.
    static func toolCalls(in text: String, known: Set<String>, turn: Int) -> [ModelToolCall] {
        let characters = Array(text.unicodeScalars)
        var calls: [ModelToolCall] = []
        var index = 0
        while index < characters.count {
            guard isNameCharacter(characters[index]), index == 0 || !isNameCharacter(characters[index - 1]) else {
                index += 1
                continue
            }
            var end = index
            while end < characters.count && isNameCharacter(characters[end]) { end += 1 }
            let name = String(String.UnicodeScalarView(characters[index..<end]))
            guard end < characters.count, characters[end] == "(", known.contains(name),
                let close = matchingParenthesis(characters, from: end)
            else {
                index = end
                continue
            }
            let inside = String(String.UnicodeScalarView(characters[(end + 1)..<close])).trimmingWhitespace()
            let arguments = parseArguments(inside)
            calls.append(ModelToolCall(
                id: "call_\(turn)_\(calls.count + 1)", name: name, rawArguments: inside, arguments: arguments))
            index = close + 1
        }
        return calls
    }

    /// `{json}` or `key=value, ...` (a value is JSON when it parses as JSON, else a string).
    static func parseArguments(_ text: String) -> JSONObject? {
        if text.isEmpty { return [:] }
        if text.hasPrefix("{") { return (try? JSONParser().parse(text))?.objectValue }
        var object = JSONObject()
        for part in splitTopLevel(text) {
            guard let equals = part.firstIndex(of: "=") else { return nil }
            let key = String(part[..<equals]).trimmingWhitespace()
            let raw = String(part[part.index(after: equals)...]).trimmingWhitespace()
            guard !key.isEmpty else { return nil }
            object[key] = (try? JSONParser().parse(raw)) ?? .string(raw)
        }
        return object
    }

    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
            || scalar == "_" || scalar == "-"
    }

    /// The `)` that closes the `(` at `open`, skipping brackets and quoted strings.
    private static func matchingParenthesis(_ characters: [Unicode.Scalar], from open: Int) -> Int? {
        var depth = 0
        var quoted = false
        var escaped = false
        var index = open
        while index < characters.count {
            let c = characters[index]
            if quoted {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quoted = false }
            } else if c == "\"" {
                quoted = true
            } else if c == "(" || c == "[" || c == "{" {
                depth += 1
            } else if c == ")" || c == "]" || c == "}" {
                depth -= 1
                if depth == 0 { return c == ")" ? index : nil }
            }
            index += 1
        }
        return nil
    }

    /// Splits at commas outside brackets and quotes.
    private static func splitTopLevel(_ text: String) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var quoted = false
        var escaped = false
        var start = text.startIndex
        for index in text.indices {
            let c = text[index]
            if quoted {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quoted = false }
            } else if c == "\"" {
                quoted = true
            } else if c == "[" || c == "{" || c == "(" {
                depth += 1
            } else if c == "]" || c == "}" || c == ")" {
                depth -= 1
            } else if c == "," && depth == 0 {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
        }
        parts.append(text[start...])
        return parts.filter { !$0.allSatisfy(\.isWhitespace) }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
