import ArgumentParser
import ToolformerProtocol

struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run many tool calls in one tools/batch request.",
        discussion: """
            FILE holds the calls in one of three shapes:
              a JSON array:       [{"name": "echo", "arguments": {"x": 1}}, ...]
              an object:          {"calls": [...], "maxConcurrency": 4, "timeoutMs": 5000}
              NDJSON:             one {"name", "arguments"} object per line
            `-` reads stdin. A call may also carry its own timeoutMs and cache. The
            flags override the object's maxConcurrency and timeoutMs.

            On a terminal a progress line is rewritten in place while the calls run,

              batch 12/40 done, 2 errors, 5 cached, 1.3 s

            then every call is listed with its outcome, in the order of the file. Exit
            status 1 when any call failed. Ctrl-C cancels the whole batch on the daemon
            and exits 130.

            Examples:
              toolformerctl batch calls.json --max-concurrency 8
              printf '%s\\n' '{"name":"sleep","arguments":{"ms":100}}' '{"name":"now"}' \\
                | toolformerctl batch -
              toolformerctl batch calls.ndjson --json | jq '.results[].isError'
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var live: LiveOptions

    @Argument(help: ArgumentHelp("The calls: a JSON array, {\"calls\": [...]}, or NDJSON; - for stdin.", valueName: "file"),
              completion: .file())
    var file: String

    @Option(help: ArgumentHelp("Calls of this batch running at once (default: only the daemon's caps).", valueName: "n"))
    var maxConcurrency: Int?

    @Option(help: ArgumentHelp("The whole batch's deadline, in milliseconds.", valueName: "ms"))
    var timeoutMs: Int?

    @Option(help: ArgumentHelp("The cache mode of calls that do not set their own: use, bypass or refresh.", valueName: "mode"))
    var cache: CacheMode?

    func validate() throws {
        if let maxConcurrency, maxConcurrency <= 0 { throw ValidationError("--max-concurrency must be positive") }
        if let timeoutMs, timeoutMs <= 0 { throw ValidationError("--timeout-ms must be a positive number of milliseconds") }
    }

    func run() throws {
        let batch = try BatchFile(text: try InputFile.read(file), source: file == "-" ? "stdin" : file)
        var params = batch.options
        var calls = batch.calls
        if let cache {
            for index in calls.indices where calls[index]["cache"] == nil { calls[index]["cache"] = .string(cache.rawValue) }
        }
        params["calls"] = .array(calls.map { .object($0) })
        if let maxConcurrency { params["maxConcurrency"] = .int(Int64(maxConcurrency)) }
        if let timeoutMs { params["timeoutMs"] = .int(Int64(timeoutMs)) }

        let presentation = live.presentation(json: options.json)
        let progress = BatchProgress(total: calls.count)
        let started = ContinuousClock.now
        let request = LiveRequest(
            method: "tools/batch", params: params, stream: presentation.wantsEvents, wait: options.longWait,
            tick: presentation == .live ? .milliseconds(100) : nil)
        let connection = try options.connect()
        if presentation == .live { progress.draw() }
        let result: JSONValue
        do {
            result = try request.run(on: connection, onEvent: { presentation.show($0, live: progress.show) }, onTick: progress.draw)
        } catch {
            progress.end()
            throw error
        }
        let results = (result["results"]?.arrayValue ?? []).map(ToolResult.init)
        progress.finish(results)
        let failed = results.filter(\.isError).count
        if case .json = presentation {
            Output.line(result.description)
        } else {
            printTable(calls: calls, results: results, elapsed: ContinuousClock.now - started)
        }
        if failed > 0 { throw CtlFailure(.requestFailed, "\(failed) of \(results.count) calls failed") }
    }

    private func printTable(calls: [JSONObject], results: [ToolResult], elapsed: Duration) {
        var rows: [[String]] = []
        for (index, result) in results.enumerated() {
            let name = index < calls.count ? calls[index]["name"]?.stringValue ?? "?" : "?"
            let outcome = result.isError ? "error" : result.cached ? "cached" : "ok"
            let time = result.durationMs.map { "\($0) ms" } ?? ""
            let text = result.isError ? result.errorMessage : result.text
            rows.append([Format.right(String(index), String(results.count - 1).count), name, outcome, Format.right(time, 8), Format.oneLine(text, limit: 80)])
        }
        for line in Format.table(rows) { Output.line(line) }
        let failed = results.filter(\.isError).count
        let cached = results.filter { !$0.isError && $0.cached }.count
        Output.line("\(results.count) call\(results.count == 1 ? "" : "s"): \(results.count - failed) ok (\(cached) cached), \(failed) failed, \(Format.elapsed(elapsed))")
    }
}
