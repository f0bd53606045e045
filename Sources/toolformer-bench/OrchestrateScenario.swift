import ToolformerProtocol

/// `orchestrate-mock`: `orchestrate` with the mock provider naming three cached `echo` calls in one
/// turn. The provider and the tools cost next to nothing, so the latency is the orchestrator's own
/// overhead: the request, the turn, three cache lookups, the answer.
enum OrchestrateScenario {
    static let prompt = "echo(a=1) echo(a=2) echo(a=3)"

    static func run(_ context: BenchContext) throws -> ScenarioOutcome {
        var outcome = ScenarioOutcome(name: "orchestrate-mock")
        let params: JSONObject = ["prompt": .string(prompt)]
        outcome.json["prompt"] = .string(prompt)

        // Twice: the first call fills the cache, the second shows what a measured call looks like.
        let probe = try context.daemon.connect()
        var result: JSONValue = .null
        for id in 1...2 {
            let response = try probe.call("orchestrate", params, id: Int64(id))
            if let error = response["error"] {
                if error["code"]?.intValue == -32601 {
                    outcome.available = false
                    outcome.note = "not available in this build: the daemon answers orchestrate with -32601"
                    outcome.table = "not available in this build (orchestrate answers -32601 method_not_found)"
                    return outcome
                }
                throw BenchIOError("orchestrate-mock: the daemon answered \(error)")
            }
            result = response["result"] ?? .null
        }
        let toolCalls = result["toolCalls"]?.arrayValue ?? []
        let cachedCalls = toolCalls.filter { $0["cached"] == .bool(true) }.count
        outcome.json["turns"] = result["turns"] ?? .null
        outcome.json["toolCalls"] = .int(Int64(toolCalls.count))
        outcome.json["cachedToolCalls"] = .int(Int64(cachedCalls))
        if toolCalls.count != 3 {
            outcome.note = "the mock made \(toolCalls.count) tool calls, not 3"
        } else if cachedCalls != 3 {
            outcome.note = "\(3 - cachedCalls) of 3 tool calls were not cache hits (result cache not available in this build?)"
        }

        let line: @Sendable (Int64) -> [UInt8] = { MessageEncoder.request(id: .int($0), method: "orchestrate", params: params) }
        let ping: @Sendable (Int64) -> [UInt8] = { MessageEncoder.request(id: .int($0), method: "ping", params: [:]) }
        var runs: [LoadResult] = []
        var overheads: [(p50: Double, p99: Double)] = []
        for _ in 0..<context.runs {
            // A ping load in the same run is the baseline: what is left over is orchestrate's own cost.
            let baseline = try LoadGenerator.run(context.spec(socket: context.daemon.socketPath, connections: 1, depth: 1, line: ping))
            let result = try LoadGenerator.run(context.spec(socket: context.daemon.socketPath, connections: 1, depth: 1, line: line))
            if let error = result.firstError { throw BenchIOError("orchestrate-mock: the daemon answered \(error)") }
            runs.append(result)
            overheads.append((result.p50 - baseline.p50, result.p99 - baseline.p99))
        }
        let index = medianIndex(runs.map(\.p50))
        let chosen = runs[index]
        let overhead = overheads[index]
        outcome.metrics["p50"] = chosen.p50
        outcome.metrics["p99"] = chosen.p99
        outcome.json["latency"] = chosen.json
        outcome.json["overPingP50Us"] = .double(overhead.p50.roundedTo(1))
        outcome.json["overPingP99Us"] = .double(overhead.p99.roundedTo(1))
        outcome.json["runP50Us"] = .array(runs.map { .double($0.p50.roundedTo(1)) })
        var table = TextTable([
            "1 conn, request-after-response", "calls/s", "p50 us", "p99 us", "p999 us", "p50 over ping", "p99 over ping",
            "tool calls", "cached",
        ])
        table.add([
            prompt, Format.rate(chosen.roundTripsPerSecond), Format.micros(chosen.p50), Format.micros(chosen.p99),
            Format.micros(chosen.p999), Format.micros(overhead.p50), Format.micros(overhead.p99), "\(toolCalls.count)", "\(cachedCalls)",
        ])
        outcome.table = table.text
        return outcome
    }
}
