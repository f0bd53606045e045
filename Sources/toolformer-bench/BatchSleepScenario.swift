import ToolformerProtocol

/// `batch-sleep`: one `tools/batch` of 10,000 `sleep` 10 ms calls, timed from the first byte sent to
/// the last byte of the response. With the global cap lifted every sleep can run at once, so the
/// floor is 10 ms and everything above it is the daemon's cost of 10,000 calls.
enum BatchSleepScenario {
    static let pythonReferenceMs = 487.0

    static func run(_ context: BenchContext) throws -> ScenarioOutcome {
        var outcome = ScenarioOutcome(name: "batch-sleep")
        let calls = context.quick ? 1000 : 10_000
        let call: JSONValue = ["name": "sleep", "arguments": ["ms": 10]]
        let request = MessageEncoder.request(
            id: 1, method: "tools/batch", params: ["calls": .array(Array(repeating: call, count: calls))])

        let status = try context.daemon.connect().call("daemon/status", [:])
        let globalLimit = status["result"]?["queues"]?["global"]?["limit"]?.intValue
        if let globalLimit, globalLimit < calls {
            outcome.note = "the daemon's orchestrator.max_concurrency is \(globalLimit): the calls run in waves"
        }

        var walls: [Double] = []
        var runs: [JSONValue] = []
        for _ in 0..<context.runs {
            let socket = try context.daemon.connect()
            let start = monotonicNanos()
            try socket.send(request)
            let line = try socket.nextLine()
            let wall = Double(monotonicNanos() - start) / 1e6
            guard let response = LineSocket.parse(line) else { throw BenchIOError("batch-sleep: unparsable response") }
            if let error = response["error"] { throw BenchIOError("batch-sleep: the daemon answered \(error)") }
            let results = response["result"]?["results"]?.arrayValue ?? []
            guard results.count == calls else { throw BenchIOError("batch-sleep: \(results.count) results for \(calls) calls") }
            let failed = results.filter { $0["isError"] != .bool(false) }.count
            if failed > 0 {
                throw BenchIOError("batch-sleep: \(failed) of \(calls) calls failed, e.g. \(results.first { $0["isError"] != .bool(false) }!)")
            }
            let longest = results.compactMap { $0["_meta"]?["toolformer"]?["durationMs"]?.intValue }.max() ?? 0
            walls.append(wall)
            runs.append(["wallMs": .double(wall.roundedTo(2)), "longestCallMs": .int(longest)])
            // Let the daemon release the batch's tasks before the next run.
            sleep(seconds: context.quick ? 0.05 : 0.3)
        }
        let wall = median(walls)
        outcome.metrics["calls"] = Double(calls)
        outcome.metrics["wallMs"] = wall
        outcome.json = [
            "calls": .int(Int64(calls)), "sleepMs": 10, "requestBytes": .int(Int64(request.count)),
            "globalLimit": globalLimit.map { .int($0) } ?? .null,
            "wallMs": .double(wall.roundedTo(2)), "minWallMs": .double((walls.min() ?? 0).roundedTo(2)),
            "maxWallMs": .double((walls.max() ?? 0).roundedTo(2)), "runs": .array(runs),
            "pythonReferenceMs": .double(pythonReferenceMs),
        ]
        var table = TextTable(["calls x 10 ms", "wall ms (median)", "min", "max", "floor", "python library"])
        table.add([
            "\(calls)", Format.fixed(wall, 1), Format.fixed(walls.min() ?? 0, 1), Format.fixed(walls.max() ?? 0, 1), "10.0",
            context.quick ? "-" : Format.fixed(pythonReferenceMs, 0),
        ])
        outcome.table = table.text
        return outcome
    }
}
