import ToolformerProtocol

/// The targets, judged from the scenarios' metrics.
struct Target {
    enum Status: String {
        case met, missed
        case notMeasurable = "not yet measurable"
        case notRun = "not run"
    }

    var name: String
    var goal: String
    var measured: String
    var status: Status

    var json: JSONValue {
        ["target": .string(name), "goal": .string(goal), "measured": .string(measured), "status": .string(status.rawValue)]
    }

    /// Every target, in the order; `quick` runs are smoke runs and judge nothing.
    static func evaluate(_ outcomes: [String: ScenarioOutcome], quick: Bool) -> [Target] {
        func metric(_ scenario: String, _ key: String) -> Double? {
            guard let outcome = outcomes[scenario], outcome.error == nil else { return nil }
            return outcome.metrics[key]
        }
        func judge(_ value: Double?, _ passes: (Double) -> Bool, measured: (Double) -> String, scenario: String, unavailable: String? = nil) -> (String, Status) {
            guard outcomes[scenario] != nil else { return ("-", .notRun) }
            if let error = outcomes[scenario]?.error { return ("failed: \(error.prefix(80))", .notMeasurable) }
            if let unavailable { return (unavailable, .notMeasurable) }
            guard let value else { return (outcomes[scenario]?.note.map { String($0.prefix(60)) } ?? "-", .notMeasurable) }
            if quick { return (measured(value) + " (--quick: not judged)", .notMeasurable) }
            return (measured(value), passes(value) ? .met : .missed)
        }
        var targets: [Target] = []
        func add(_ name: String, _ goal: String, _ result: (String, Status)) {
            targets.append(Target(name: name, goal: goal, measured: result.0, status: result.1))
        }

        add("ping, 16 connections, round trips/s", ">= 0.50x echo reference",
            judge(metric("ping", "c16.ratio"), { $0 >= 0.5 }, measured: { Format.ratio($0) }, scenario: "ping"))
        add("ping, 16 connections, p99", "<= 2x echo reference's p99",
            judge(metric("ping", "c16.p99Ratio"), { $0 <= 2 }, measured: { Format.ratio($0) }, scenario: "ping"))

        let cacheActive = metric("cached-call", "cacheActive") == 1
        let uncached = metric("cached-call", "c16.ratio").map { "no result cache in this build (uncached echo: \(Format.ratio($0)))" }
        add("cached tools/call, 16 connections, round trips/s", ">= 0.35x echo reference",
            judge(metric("cached-call", "c16.ratio"), { $0 >= 0.35 }, measured: { Format.ratio($0) }, scenario: "cached-call",
                  unavailable: cacheActive ? nil : (uncached ?? "no result cache in this build")))

        let calls = metric("batch-sleep", "calls") ?? 10_000
        add("batch-sleep, 10,000 x 10 ms", "<= 60 ms wall",
            judge(metric("batch-sleep", "wallMs"), { $0 <= 60 }, measured: { Format.fixed($0, 1) + " ms" + (calls == 10_000 ? "" : " (\(Int(calls)) calls)") },
                  scenario: "batch-sleep"))

        let orchestrate = outcomes["orchestrate-mock"]
        add("orchestrate-mock p50", "<= 150 us",
            judge(metric("orchestrate-mock", "p50"), { $0 <= 150 }, measured: { Format.micros($0) + " us" }, scenario: "orchestrate-mock",
                  unavailable: orchestrate?.available == false ? "orchestrate not available in this build" : nil))

        add("idle RSS", "<= 25 MiB",
            judge(metric("cache-memory", "idleRSS"), { $0 <= 25 * 1_048_576 }, measured: { Format.mebibytes(Int($0)) }, scenario: "cache-memory"))
        let memoryCache = metric("cache-memory", "cacheActive") == 1
        add("100,000 cached 1 KiB results", "<= 1.5x their bytes",
            judge(metric("cache-memory", "bytesPerEntryRatio"), { $0 <= 1.5 }, measured: { Format.ratio($0) }, scenario: "cache-memory",
                  unavailable: memoryCache ? nil : "no result cache in this build"))

        add("exec to READY=1", "<= 100 ms",
            judge(metric("startup", "readyMs"), { $0 <= 100 }, measured: { Format.fixed($0, 1) + " ms" }, scenario: "startup"))
        return targets
    }

    static func table(_ targets: [Target]) -> String {
        var table = TextTable(["target", "goal", "measured", "status"], leftAligned: [0, 1, 2, 3])
        for target in targets { table.add([target.name, target.goal, target.measured, target.status.rawValue]) }
        return table.text
    }
}
