import ArgumentParser
import ToolformerProtocol

struct Orchestrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let a model pick and call tools until it answers; print its answer.",
        discussion: """
            The daemon asks the provider (orchestrator.default_provider unless
            --provider), runs the tools the model calls in parallel, feeds the results
            back, and repeats until the model answers or --max-turns runs out (a
            warning on stderr then, still exit 0). The answer goes to stdout. On a
            terminal each turn and tool call shows as it happens:

              ◆ turn 1: asking mock (mock)
                2 tool calls, 11 in / 16 out tokens, 0.0 s
              ▸ echo started
              ✓ echo 3 ms

            Ctrl-C cancels the run on the daemon (a provider's HTTP request is
            aborted, tools are stopped) and exits 130.

            Examples:
              toolformerctl orchestrate 'Please run echo(city="Paris") and now().'
              toolformerctl orchestrate "Weather in Oslo?" --tools weather,now \\
                --provider openai --model gpt-4o-mini
              toolformerctl orchestrate - --max-turns 3 --json < prompt.txt
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var live: LiveOptions

    @Argument(help: "The user prompt; - reads it from stdin.")
    var prompt: String

    @Option(help: ArgumentHelp("A system prompt sent before the user's.", valueName: "text"))
    var system: String?

    @Option(
        parsing: .singleValue,
        help: ArgumentHelp("Tools the model may call, comma-separated or repeated (default: all).", valueName: "a,b"))
    var tools: [String] = []

    @Option(help: ArgumentHelp("The provider, as the daemon's [providers.NAME] names it.", valueName: "name"))
    var provider: String?

    @Option(help: ArgumentHelp("The model, instead of the provider's configured one.", valueName: "name"))
    var model: String?

    @Option(help: ArgumentHelp("Rounds of model, then tools (default: orchestrator.max_turns).", valueName: "n"))
    var maxTurns: Int?

    @Option(help: ArgumentHelp("A turn's tool calls running at once (default: only the daemon's caps).", valueName: "n"))
    var maxParallelTools: Int?

    @Option(help: ArgumentHelp("The whole run's deadline, in milliseconds.", valueName: "ms"))
    var timeoutMs: Int?

    func validate() throws {
        if let maxTurns, maxTurns <= 0 { throw ValidationError("--max-turns must be positive") }
        if let maxParallelTools, maxParallelTools <= 0 { throw ValidationError("--max-parallel-tools must be positive") }
        if let timeoutMs, timeoutMs <= 0 { throw ValidationError("--timeout-ms must be a positive number of milliseconds") }
    }

    func run() throws {
        let text = prompt == "-" ? try InputFile.read("-") : prompt
        var params: JSONObject = [:]
        if let system {
            params["messages"] = [["role": "system", "content": .string(system)], ["role": "user", "content": .string(text)]]
        } else {
            params["prompt"] = .string(text)
        }
        let names = tools.flatMap { $0.split(separator: ",") }.map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        if !names.isEmpty { params["tools"] = .array(names.map { .string($0) }) }
        if let provider { params["provider"] = .string(provider) }
        if let model { params["model"] = .string(model) }
        if let maxTurns { params["maxTurns"] = .int(Int64(maxTurns)) }
        if let maxParallelTools { params["maxParallelTools"] = .int(Int64(maxParallelTools)) }
        if let timeoutMs { params["timeoutMs"] = .int(Int64(timeoutMs)) }

        let presentation = live.presentation(json: options.json)
        let lines = ToolLines()
        let request = LiveRequest(method: "orchestrate", params: params, stream: presentation.wantsEvents, wait: options.longWait)
        let connection = try options.connect()
        let result = try request.run(on: connection) { presentation.show($0, live: lines.show) }

        if case .json = presentation {
            Output.line(result.description)
            return
        }
        Output.block(result["output"]?.stringValue ?? "")
        let turns = result["turns"]?.intValue ?? 0
        if presentation == .live {
            let usage = result["usage"]
            Output.line(
                "— \(turns) turn\(turns == 1 ? "" : "s"), \(result["toolCalls"]?.arrayValue?.count ?? 0) tool calls, "
                    + "\(usage?["inputTokens"]?.intValue ?? 0) in / \(usage?["outputTokens"]?.intValue ?? 0) out tokens, "
                    + "\(result["provider"]?.stringValue ?? "?") (\(result["model"]?.stringValue ?? "?")), "
                    + (result["stopReason"]?.stringValue ?? "?"))
        }
        if result["stopReason"] == "max_turns" {
            Output.error("stopped after \(turns) turns (max_turns) before the model answered")
        }
    }
}
