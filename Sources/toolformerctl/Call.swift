import ArgumentParser
import ToolformerProtocol

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call one tool and print its result.",
        discussion: """
            Arguments are key=value pairs: a value that parses as JSON is that JSON,
            anything else is a string (quote JSON-looking strings: zip='"01234"').
            --args gives a whole JSON object, or @FILE (@- for stdin), that the pairs
            then add to.

            The tool's text goes to stdout. A tool that ran and failed (isError) prints
            its text on stderr and exits 1. On a terminal, tool lines show as it runs:

              ▸ sleep started
              ✓ sleep 250 ms

            Ctrl-C sends notifications/cancelled for the call, so the daemon stops it
            (a sleep ends, an exec tool's process group is killed), and exits 130.

            Examples:
              toolformerctl call echo city=Paris n=3 tags='["a","b"]'
              toolformerctl call sleep ms=250 --timeout-ms 100
              toolformerctl call http_get url=https://example.com --cache bypass
              toolformerctl call echo --args @request.json --json
              toolformerctl call sleep ms=20 --events   # NDJSON events, then the result
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var live: LiveOptions

    @Argument(help: "The tool (see `toolformerctl tools`).", completion: ToolNameCompletion.kind)
    var name: String

    @Argument(help: ArgumentHelp("Arguments as key=value; values are JSON when they parse, else strings.", valueName: "key=value"))
    var pairs: [String] = []

    @Option(help: ArgumentHelp("The arguments as a JSON object, or @FILE to read it from a file (@- for stdin).", valueName: "json|@file"))
    var args: String?

    @Option(help: ArgumentHelp("The request's deadline on the daemon, in milliseconds.", valueName: "ms"))
    var timeoutMs: Int?

    @Option(help: ArgumentHelp("use: read and fill the shared cache (default); bypass: neither; refresh: run and replace the entry.", valueName: "mode"))
    var cache: CacheMode?

    func validate() throws {
        if let timeoutMs, timeoutMs <= 0 { throw ValidationError("--timeout-ms must be a positive number of milliseconds") }
    }

    func run() throws {
        let arguments = try ToolArguments.build(pairs: pairs, args: args)
        var params: JSONObject = ["name": .string(name), "arguments": .object(arguments)]
        if let timeoutMs { params["timeoutMs"] = .int(Int64(timeoutMs)) }
        if let cache { params["cache"] = .string(cache.rawValue) }

        let presentation = live.presentation(json: options.json)
        let lines = ToolLines()
        let request = LiveRequest(method: "tools/call", params: params, stream: presentation.wantsEvents, wait: options.longWait)
        let connection = try options.connect()
        let result = try request.run(on: connection) { presentation.show($0, live: lines.show) }

        let tool = ToolResult(result)
        if case .json = presentation {
            Output.line(result.description)
            if tool.isError { throw CtlFailure(.requestFailed, "\(name) reported an error (isError)") }
            return
        }
        if tool.isError { throw CtlFailure(.requestFailed, "\(name) failed: \(tool.errorMessage)") }
        Output.block(tool.text)
    }
}
