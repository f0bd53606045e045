import Testing
import ToolformerProtocol
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// `toolformer-bench all --quick --json` against the debug build: it must finish and report numbers
/// for every scenario. Speed is not judged here (docs/benchmarks.md is where the numbers live).
@Suite(.timeLimit(.minutes(2)))
struct BenchSmokeTests {
    static let scenarios = ["ping", "cached-call", "batch-sleep", "orchestrate-mock", "cache-memory", "startup"]

    @Test func quickRunOfEveryScenarioReportsNumbers() throws {
        let binary = TestDaemon.binary("toolformer-bench")
        try #require(access(binary, X_OK) == 0, "no \(binary): build the package (swift build --build-tests)")
        var template = Array("/tmp/toolformer-bench-test-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }

        let status = try Self.run([binary, "all", "--quick", "--json"], stdout: directory + "/out.json", stderr: directory + "/err.txt")
        let tables = (try? TestDaemon.readFile(directory + "/err.txt")) ?? ""
        #expect(status == 0, "toolformer-bench exited \(status):\n\(tables)")

        let text = try TestDaemon.readFile(directory + "/out.json")
        let document = try JSONParser(maxDepth: 64).parse(text)
        let scenarios = try #require(document["scenarios"]?.objectValue, "no scenarios in:\n\(text)\n\(tables)")
        #expect(scenarios.keys.sorted() == Self.scenarios.sorted())
        for name in Self.scenarios {
            let scenario = try #require(scenarios[name], "\(name) missing")
            #expect(scenario["error"] == nil, "\(name) failed: \(scenario["error"] ?? .null)")
            guard scenario["available"] == true else {
                // Only what the build lacks may be missing, and it must say so.
                #expect(scenario["note"]?.stringValue?.contains("not available in this build") == true, "\(name): \(scenario)")
                continue
            }
            // Every number present; in a fraction of a second on a loaded machine one load may
            // finish no round trip, but a scenario that measured nothing at all is broken.
            let numbers = Self.numbers(name, scenario)
            for number in numbers {
                #expect((number.value ?? -1) >= 0, "\(name).\(number.key) = \(number.value.map { "\($0)" } ?? "missing")")
            }
            #expect(numbers.contains { ($0.value ?? 0) > 0 }, "\(name) measured nothing: \(scenario)")
        }
        let targets = try #require(document["targets"]?.arrayValue)
        #expect(targets.count == 8)
        #expect((document["machine"]?["nproc"]?.intValue ?? 0) > 0)
    }

    /// The numbers each scenario must report.
    static func numbers(_ name: String, _ scenario: JSONValue) -> [(key: String, value: Double?)] {
        switch name {
        case "ping", "cached-call":
            let loads = scenario["measurements"]?.arrayValue ?? []
            guard !loads.isEmpty else { return [("measurements", nil)] }
            return loads.flatMap { load -> [(key: String, value: Double?)] in
                let label = "\(load["connections"]?.intValue ?? 0)x\(load["depth"]?.intValue ?? 0)"
                return [
                    ("\(label).daemon.roundTripsPerSecond", load["daemon"]?["roundTripsPerSecond"]?.numberValue),
                    ("\(label).daemon.p99Us", load["daemon"]?["p99Us"]?.numberValue),
                    ("\(label).reference.roundTripsPerSecond", load["reference"]?["roundTripsPerSecond"]?.numberValue),
                    ("\(label).ratio", load["ratio"]?.numberValue),
                ]
            }
        case "batch-sleep":
            return [("wallMs", scenario["wallMs"]?.numberValue), ("calls", scenario["calls"]?.numberValue)]
        case "orchestrate-mock":
            return [("latency.p50Us", scenario["latency"]?["p50Us"]?.numberValue), ("latency.p99Us", scenario["latency"]?["p99Us"]?.numberValue)]
        case "cache-memory":
            return [("idleRSSBytes", scenario["idleRSSBytes"]?.numberValue), ("afterRSSBytes", scenario["afterRSSBytes"]?.numberValue)]
        case "startup":
            return [("readyMs", scenario["readyMs"]?.numberValue), ("firstPingMs", scenario["firstPingMs"]?.numberValue)]
        default:
            return [(name, nil)]
        }
    }

    /// Runs argv to completion with stdout and stderr in files of their own; returns the exit code.
    static func run(_ argv: [String], stdout: String, stderr: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let arguments = argv.map { strdup($0) } + [nil]
        let environment = [String](["PATH=/usr/local/bin:/usr/bin:/bin"]).map { strdup($0) } + [nil]
        defer {
            arguments.forEach { free($0) }
            environment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, arguments, environment)
        guard spawned == 0 else { throw TestDaemonError("posix_spawn \(argv[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
