import ToolformerProtocol

extension Orchestrator {
    /// `orchestrate`: the model picks tools, the daemon runs each turn's calls in parallel on the
    /// shared orchestrator (cache, limits, retries, rate limits all apply), feeds every result
    /// back, and repeats until the model answers or `maxTurns` runs out.
    func orchestrate(_ params: JSONObject, context: RequestContext) async throws(ToolformerError) -> JSONValue {
        guard let providers else { throw .methodNotFound("orchestrate") }
        let reader = ParamReader(params)
        let deadline = try requestDeadline(reader)
        var messages = try Self.initialMessages(reader)
        let tools = try allowedTools(reader)
        let provider = try reader.optionalString("provider")
        if let provider, !providers.hasProvider(provider) {
            throw .invalidParams("no provider named \(provider)", field: "provider")
        }
        let model = try reader.optionalString("model")
        let maxTurns = Int(clamping: try reader.optionalPositiveInt("maxTurns") ?? Int64(settings.withLock { $0.maxTurns }))
        let maxParallel = Int(clamping: try reader.optionalPositiveInt("maxParallelTools") ?? Int64.max)
        let definitions = tools.map(\.tool.definition)

        var usage = TokenUsage()
        var record: [JSONValue] = []
        var answeredBy = (provider: provider ?? "", model: model ?? "")
        // Once a provider answers, the rest of the run stays with it: a fallback that took over
        // keeps the conversation (its tool-call ids, its model) rather than going back to one that
        // just failed.
        var current = (provider: provider, model: model)
        for turn in 1...maxTurns {
            let request = LLMRequest(model: current.model ?? "", messages: messages, tools: definitions)
            let events = context.events
            let (response, name) = try await providers.complete(
                request, provider: current.provider, model: current.model, deadline: deadline
            ) {
                provider, model in
                events.emit("llm.started", ["turn": .int(Int64(turn)), "provider": .string(provider), "model": .string(model)])
            }
            usage = usage + response.usage
            answeredBy = (name, response.model)
            if name != current.provider { current = (name, nil) }
            context.events.emit("llm.finished", [
                "turn": .int(Int64(turn)), "toolCalls": .int(Int64(response.toolCalls.count)), "usage": response.usage.json,
            ])
            if response.toolCalls.isEmpty {
                return Self.orchestrateResult(
                    output: response.text, stopReason: "end_turn", calls: record, turns: turn, usage: usage, by: answeredBy)
            }

            messages.append(ChatMessage(role: .assistant, text: response.text, toolCalls: response.toolCalls))
            let results = await runModelCalls(response.toolCalls, allowed: tools, limit: maxParallel, deadline: deadline, context: context)
            if Task.isCancelled { throw .cancelled() }
            for (call, result) in zip(response.toolCalls, results) {
                messages.append(.toolResult(id: call.id, text: result.text, isError: result.isError))
                record.append([
                    "callId": .string(call.id), "name": .string(call.name), "arguments": call.arguments.map { .object($0) } ?? .string(call.rawArguments),
                    "result": result.json, "cached": .bool(result.cached), "durationMs": .int(result.durationMs),
                ])
            }
        }
        // Out of turns: a result all the same, with every call made.
        let lastText = messages.last { $0.role == .assistant }?.text ?? ""
        return Self.orchestrateResult(output: lastText, stopReason: "max_turns", calls: record, turns: maxTurns, usage: usage, by: answeredBy)
    }

    struct ModelCallResult {
        var json: JSONValue
        var text: String
        var isError: Bool
        var cached: Bool
        var durationMs: Int64
    }

    /// Runs one turn's calls, at most `limit` at once. What the model got wrong (a tool that does
    /// not exist or was not offered, arguments that are not an object or fail the schema) goes
    /// back to it as an error result, as does a call that timed out or was rate limited.
    func runModelCalls(
        _ calls: [ModelToolCall], allowed: [ToolRegistry.Entry], limit: Int, deadline: Duration, context: RequestContext
    ) async -> [ModelCallResult] {
        var prepared: [Result<ToolCall, ToolformerError>] = []
        for call in calls {
            guard let entry = allowed.first(where: { $0.tool.definition.name == call.name }) else {
                prepared.append(.failure(.unknownTool(call.name)))
                continue
            }
            guard let arguments = call.arguments else {
                prepared.append(.failure(.invalidParams("the arguments are not a JSON object: \(call.rawArguments.prefix(200))", field: "arguments")))
                continue
            }
            do throws(ToolformerError) {
                try SchemaCheck.validate(arguments, against: entry.tool.definition.inputSchema)
                prepared.append(.success(ToolCall(
                    entry: entry, arguments: arguments, callID: call.id, owner: context.connectionID, deadline: deadline,
                    events: context.events)))
            } catch {
                prepared.append(.failure(error))
            }
        }

        var results = [ModelCallResult?](repeating: nil, count: calls.count)
        let clock = executor.clock
        await withTaskGroup(of: (Int, ModelCallResult).self) { group in
            var next = 0
            func launch() {
                let index = next
                next += 1
                switch prepared[index] {
                case .failure(let error):
                    let text = "error: \(error.message)"
                    results[index] = ModelCallResult(
                        json: ToolExecutor.callToolResult(.failure(text), durationMs: 0, attempts: 0, error: error),
                        text: text, isError: true, cached: false, durationMs: 0)
                    if next < prepared.count { launch() }
                case .success(let call):
                    group.addTask { [self] in
                        let started = clock.now
                        let outcome = await execute(call, ownsTask: true)
                        let durationMs = (clock.now - started).milliseconds
                        switch outcome {
                        case .result(let json):
                            let text = json["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: "\n") ?? ""
                            return (index, ModelCallResult(
                                json: json, text: text, isError: json["isError"] == true,
                                cached: json["_meta"]?["toolformer"]?["cached"] == true, durationMs: durationMs))
                        case .failure(let error):
                            let text = "error: \(error.message)"
                            return (index, ModelCallResult(
                                json: ToolExecutor.callToolResult(.failure(text), durationMs: durationMs, error: error),
                                text: text, isError: true, cached: false, durationMs: durationMs))
                        }
                    }
                }
            }
            while next < min(limit, prepared.count) { launch() }
            while let (index, result) = await group.next() {
                results[index] = result
                if next < prepared.count { launch() }
            }
        }
        return results.map { $0! }
    }

    /// The tools the model may call: all, or the names the request lists.
    func allowedTools(_ reader: ParamReader) throws(ToolformerError) -> [ToolRegistry.Entry] {
        guard let names = reader.params["tools"], !names.isNull else { return registry.all() }
        guard case .array(let list) = names else { throw .invalidParams("tools must be an array of tool names", field: "tools") }
        var entries: [ToolRegistry.Entry] = []
        for (index, value) in list.enumerated() {
            guard case .string(let name) = value else { throw .invalidParams("tools[\(index)] must be a string", field: "tools[\(index)]") }
            guard let entry = registry.entry(named: name) else { throw ToolformerError.unknownTool(name).with("field", .string("tools[\(index)]")) }
            entries.append(entry)
        }
        return entries
    }

    /// `prompt`, or `messages` of `{role, content}` (system, user, assistant).
    static func initialMessages(_ reader: ParamReader) throws(ToolformerError) -> [ChatMessage] {
        let prompt = try reader.optionalString("prompt")
        let raw = reader.params["messages"]
        switch (prompt, raw) {
        case (let prompt?, nil), (let prompt?, .null?):
            guard !prompt.isEmpty else { throw .invalidParams("prompt must not be empty", field: "prompt") }
            return [.user(prompt)]
        case (nil, .array(let list)?):
            guard !list.isEmpty else { throw .invalidParams("messages must not be empty", field: "messages") }
            var messages: [ChatMessage] = []
            for (index, item) in list.enumerated() {
                let field = "messages[\(index)]"
                guard let role = item["role"]?.stringValue, let parsed = ChatMessage.Role(rawValue: role), parsed != .tool else {
                    throw .invalidParams("\(field).role must be system, user or assistant", field: field + ".role")
                }
                guard let content = item["content"]?.stringValue else {
                    throw .invalidParams("\(field).content must be a string", field: field + ".content")
                }
                messages.append(ChatMessage(role: parsed, text: content))
            }
            guard messages.contains(where: { $0.role == .user }) else {
                throw .invalidParams("messages need at least one user message", field: "messages")
            }
            return messages
        case (nil, nil), (nil, .null?):
            throw .invalidParams("orchestrate needs prompt or messages", field: "prompt")
        case (_?, _?):
            throw .invalidParams("give prompt or messages, not both", field: "messages")
        case (nil, _?):
            throw .invalidParams("messages must be an array", field: "messages")
        }
    }

    static func orchestrateResult(
        output: String, stopReason: String, calls: [JSONValue], turns: Int, usage: TokenUsage, by: (provider: String, model: String)
    ) -> JSONValue {
        [
            "output": .string(output), "stopReason": .string(stopReason), "toolCalls": .array(calls), "turns": .int(Int64(turns)),
            "usage": usage.json, "provider": .string(by.provider), "model": .string(by.model),
        ]
    }
}
