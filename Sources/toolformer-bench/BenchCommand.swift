import ArgumentParser
import ToolformerProtocol
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// `toolformer-bench`: scenarios against a real daemon, each measured beside a C line echo driven by
/// the same client (docs/benchmarks.md).
@main
struct BenchCommand: ParsableCommand {
    static let scenarioNames = ["ping", "cached-call", "batch-sleep", "orchestrate-mock", "cache-memory", "startup"]

    static let configuration = CommandConfiguration(
        commandName: "toolformer-bench",
        abstract: "Measure toolformerd against a C line-echo reference.",
        discussion: """
            Scenarios: \(scenarioNames.joined(separator: ", ")), or all. By default the benchmark starts
            the toolformerd binary built beside it on a temporary socket with a configuration of its own
            (echo cached for an hour, orchestrator.max_concurrency = 10000, the mock provider), and the
            toolformer-echo-reference binary beside it. Build all three in release first:
              swift build -c release --product toolformerd
              swift build -c release --product toolformer-echo-reference
              swift build -c release --product toolformer-bench
            Exit status: 0 when every scenario ran (whatever the numbers), 1 when one failed.
            """,
        version: ToolformerVersion.current)

    @Argument(help: "Scenarios to run: \(scenarioNames.joined(separator: ", ")) or all.")
    var scenarios: [String] = ["all"]

    @Option(name: .long, help: "Use the daemon already listening here instead of starting one (cache-memory then measures it as it is; startup still starts the built binary).")
    var socket: String?

    @Option(name: .long, help: "Seconds measured per load (after a warm-up of a quarter of it, at most 0.5 s).")
    var duration: Double = 2

    @Option(name: .long, help: "Runs of each measurement; the median is reported. Default 3 (1 with --quick).")
    var runs: Int?

    @Flag(name: .long, help: "A smoke run: a fraction of a second per measurement, small batches; targets are not judged.")
    var quick = false

    @Flag(name: .long, help: "Print the results as JSON on stdout (tables go to stderr).")
    var json = false

    @Option(name: .long, help: "Where toolformerd and toolformer-echo-reference are (default: beside this executable).")
    var binDir: String?

    @Flag(name: .long, help: "Print the configuration the benchmark gives the daemon it starts, and exit.")
    var printConfig = false

    func validate() throws {
        for name in scenarios where name != "all" && !Self.scenarioNames.contains(name) {
            throw ValidationError("unknown scenario '\(name)'; choose from \(Self.scenarioNames.joined(separator: ", ")), all")
        }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        let output = Output(tablesToStderr: json)
        if printConfig {
            output.write(1, BenchConfig.text)
            return
        }
        if let binDir { setenv("TOOLFORMER_BIN_DIR", binDir, 1) }
        ChildProcesses.killOnInterrupt()
        let directory = TestDaemon.binDirectory
        let daemonBinary = TestDaemon.binary("toolformerd")
        let referenceBinary = TestDaemon.binary("toolformer-echo-reference")
        let selected = scenarios.contains("all") ? Self.scenarioNames : Self.scenarioNames.filter(scenarios.contains)
        let needsBinary = socket == nil || selected.contains("startup")
        if needsBinary && access(daemonBinary, X_OK) != 0 {
            output.progress("toolformer-bench: no toolformerd at \(daemonBinary); build it: swift build -c release --product toolformerd")
            throw ExitCode(1)
        }
        let build = directory.contains("/release") ? "release" : directory.contains("/debug") ? "debug" : "unknown"

        let machine = Machine.current()
        let measured = quick ? 0.15 : duration
        let context = BenchContext(
            daemon: try socket.map { try DaemonUnderTest(socket: $0) } ?? DaemonUnderTest(config: BenchConfig.text),
            reference: try EchoReference(binary: referenceBinary),
            duration: measured, warmup: quick ? 0.05 : min(0.5, measured / 4), runs: runs ?? (quick ? 1 : 3),
            quick: quick, output: output, daemonBinary: socket == nil ? daemonBinary : nil)
        output.table("""
            toolformer-bench \(ToolformerVersion.current): \(build) build, \(socket.map { "daemon at \($0)" } ?? daemonBinary)
            machine: \(machine.processors) x \(machine.cpuModel), \(machine.kernel), load average \(machine.loadAverage)
            each load: \(Format.fixed(context.warmup, 2)) s warm-up + \(Format.fixed(context.duration, 2)) s measured, \(context.runs) run(s), median reported; ratios are daemon / C echo reference in the same run
            """)
        if build != "release" && !quick {
            output.progress("warning: a \(build) build; numbers for docs/benchmarks.md come from `swift build -c release`")
        }

        let started = monotonicNanos()
        var outcomes: [String: ScenarioOutcome] = [:]
        for name in selected {
            output.progress("running \(name)...")
            let scenarioStart = monotonicNanos()
            var outcome: ScenarioOutcome
            do {
                outcome = try Self.run(name, context: context, daemonBinary: daemonBinary)
            } catch {
                outcome = ScenarioOutcome(name: name)
                outcome.error = "\(error)"
                outcome.table = "FAILED: \(error)"
            }
            outcome.json["seconds"] = .double((Double(monotonicNanos() - scenarioStart) / 1e9).roundedTo(2))
            outcomes[name] = outcome
            output.table("\n== \(name)" + (outcome.note.map { " (\($0))" } ?? "") + "\n" + outcome.table)
        }
        let seconds = Double(monotonicNanos() - started) / 1e9
        let targets = Target.evaluate(outcomes, quick: quick)
        output.table("\n== targets\n" + Target.table(targets))
        output.table("\nfinished in \(Format.fixed(seconds, 1)) s; load average now \(Machine.loadAverage())")

        if json {
            var scenariosJSON: JSONObject = [:]
            for name in selected { scenariosJSON[name] = outcomes[name]?.jsonValue ?? .null }
            let document: JSONValue = [
                "version": .string(ToolformerVersion.current), "build": .string(build),
                "daemon": .string(socket ?? daemonBinary), "machine": machine.json,
                "loadAverageAfter": .string(Machine.loadAverage()),
                "options": [
                    "duration": .double(context.duration), "warmup": .double(context.warmup),
                    "runs": .int(Int64(context.runs)), "quick": .bool(quick),
                ],
                "scenarios": .object(scenariosJSON),
                "targets": .array(targets.map(\.json)),
                "seconds": .double(seconds.roundedTo(2)),
            ]
            output.write(1, JSONWriter.string(document) + "\n")
        }
        context.daemon.stop()
        if outcomes.values.contains(where: { $0.error != nil }) { throw ExitCode(1) }
    }

    static func run(_ name: String, context: BenchContext, daemonBinary: String) throws -> ScenarioOutcome {
        switch name {
        case "ping": return try ThroughputScenario.ping.run(context)
        case "cached-call": return try ThroughputScenario.cachedCall.run(context)
        case "batch-sleep": return try BatchSleepScenario.run(context)
        case "orchestrate-mock": return try OrchestrateScenario.run(context)
        case "cache-memory": return try CacheMemoryScenario.run(context)
        case "startup": return try StartupScenario.run(context, binary: daemonBinary)
        default: throw BenchIOError("unknown scenario \(name)")
        }
    }
}
