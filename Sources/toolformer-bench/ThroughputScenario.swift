import ToolformerProtocol

/// `ping` and `cached-call`: round trips per second and latency at 1, 16 and 64 connections doing
/// request-after-response, and pipelined at depth 32, each load run against the daemon and then
/// against the C echo reference with the same client and the same request lines.
struct ThroughputScenario {
    var name: String
    var method: String
    var params: JSONObject
    /// (connections, depth); depth 1 is request-after-response.
    var loads: [(connections: Int, depth: Int)] = [(1, 1), (16, 1), (64, 1), (1, 32), (16, 32)]

    static let ping = ThroughputScenario(name: "ping", method: "ping", params: [:])

    /// A call of about 200 bytes on the wire, the size NOTES.md's reference speeds were measured with.
    static let cachedCall = ThroughputScenario(
        name: "cached-call", method: "tools/call",
        params: [
            "name": "echo",
            "arguments": ["city": "Lisbon", "units": "metric", "days": 3, "query": "weather forecast for the next three days, hourly"],
        ])

    func run(_ context: BenchContext) throws -> ScenarioOutcome {
        var outcome = ScenarioOutcome(name: name)
        let method = method
        let params = params
        let line: @Sendable (Int64) -> [UInt8] = { MessageEncoder.request(id: .int($0), method: method, params: params) }

        // The first call fills the cache; the second says whether this build has one.
        let probe = try context.daemon.connect()
        var cacheActive = false
        for id in 1...2 {
            let response = try probe.call(method, params, id: Int64(id))
            if let error = response["error"] { throw BenchIOError("\(name): the daemon answered \(error)") }
            cacheActive = response["result"]?["_meta"]?["toolformer"]?["cached"] == .bool(true)
        }
        if name == "cached-call" {
            outcome.json["cacheActive"] = .bool(cacheActive)
            if !cacheActive {
                outcome.note = "result cache not available in this build: measured uncached echo calls"
            }
        }

        var table = TextTable([
            "conns x depth", "daemon rt/s", "p50 us", "p99 us", "p999 us", "echo rt/s", "p50 us", "p99 us", "p999 us",
            "rt/s ratio", "p99 ratio",
        ])
        var measurements: [JSONValue] = []
        for load in loads {
            var daemonRuns: [LoadResult] = []
            var referenceRuns: [LoadResult] = []
            for run in 0..<context.runs {
                let daemonSpec = context.spec(
                    socket: context.daemon.socketPath, connections: load.connections, depth: load.depth, line: line)
                var referenceSpec = daemonSpec
                referenceSpec.socketPath = context.reference.socketPath
                // Alternate which goes first, so that drift in the machine's load falls on both.
                if run % 2 == 0 {
                    daemonRuns.append(try LoadGenerator.run(daemonSpec))
                    referenceRuns.append(try LoadGenerator.run(referenceSpec))
                } else {
                    referenceRuns.append(try LoadGenerator.run(referenceSpec))
                    daemonRuns.append(try LoadGenerator.run(daemonSpec))
                }
                if let error = daemonRuns.last?.firstError {
                    throw BenchIOError("\(name) at \(load.connections)x\(load.depth): the daemon answered \(error)")
                }
            }
            let ratios = zip(daemonRuns, referenceRuns).map { $0.roundTripsPerSecond / $1.roundTripsPerSecond }
            let p99Ratios = zip(daemonRuns, referenceRuns).map { $0.p99 / $1.p99 }
            let daemon = daemonRuns[medianIndex(daemonRuns.map(\.roundTripsPerSecond))]
            let reference = referenceRuns[medianIndex(referenceRuns.map(\.roundTripsPerSecond))]
            let ratio = median(ratios)
            let p99Ratio = median(p99Ratios)
            table.add([
                "\(load.connections) x \(load.depth)",
                Format.rate(daemon.roundTripsPerSecond), Format.micros(daemon.p50), Format.micros(daemon.p99),
                Format.micros(daemon.p999),
                Format.rate(reference.roundTripsPerSecond), Format.micros(reference.p50), Format.micros(reference.p99),
                Format.micros(reference.p999),
                Format.ratio(ratio), Format.ratio(p99Ratio),
            ])
            measurements.append([
                "connections": .int(Int64(load.connections)), "depth": .int(Int64(load.depth)),
                "daemon": daemon.json, "reference": reference.json,
                "ratio": .double(ratio.roundedTo(3)), "p99Ratio": .double(p99Ratio.roundedTo(3)),
                "runRatios": .array(ratios.map { .double($0.roundedTo(3)) }),
                "runRoundTripsPerSecond": .array(daemonRuns.map { .double($0.roundTripsPerSecond.rounded()) }),
            ])
            if load.depth == 1 {
                outcome.metrics["c\(load.connections).ratio"] = ratio
                outcome.metrics["c\(load.connections).p99Ratio"] = p99Ratio
                outcome.metrics["c\(load.connections).rtps"] = daemon.roundTripsPerSecond
                outcome.metrics["c\(load.connections).p50"] = daemon.p50
            }
            if name == "cached-call", cacheActive, daemon.sampled > 0, daemon.sampledCached < daemon.sampled {
                outcome.note = "\(daemon.sampled - daemon.sampledCached) of \(daemon.sampled) sampled responses were not cache hits"
            }
        }
        outcome.metrics["cacheActive"] = cacheActive ? 1 : 0
        outcome.json["request"] = .string(String(decoding: line(1).dropLast(), as: UTF8.self))
        outcome.json["measurements"] = .array(measurements)
        outcome.table = table.text
        return outcome
    }
}
