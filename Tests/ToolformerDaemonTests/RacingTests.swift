import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// Racing, quorum and hedging over the socket, with real processes.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct RacingTests {
    /// A tool that records its pid, sleeps, then prints what it slept (or fails).
    static func sleeper(_ name: String, ms: Int, fails: Bool = false) -> (String, (body: String, toml: String)) {
        let seconds = String(format: ms)
        let end = fails ? "echo failed >&2\nexit 1" : #"echo "{\"slept\":\#(ms)}""#
        return (name, ("echo $$ > DIR/pid-\(name)\nsleep \(seconds)\n\(end)", ""))
    }

    static func calls(_ names: [String]) -> JSONValue { .array(names.map { ["name": .string($0), "arguments": [:]] }) }

    func pid(_ scripted: ToolKindTests.ScriptedDaemon, _ name: String) -> pid_t? {
        (try? TestDaemon.readFile(scripted.directory + "/pid-\(name)")).flatMap { pid_t($0.trimmingWhitespace()) }
    }

    func gone(_ pid: pid_t) -> Bool { ToolKindTests().isGone(pid) }

    @Test func firstReturnsTheFastestAndKillsTheRest() async throws {
        // Far apart, so that a loaded machine starting one process late cannot change the winner.
        let scripted = try ToolKindTests.ScriptedDaemon(scripts: Dictionary(uniqueKeysWithValues: [
            Self.sleeper("s8000", ms: 8000), Self.sleeper("s100", ms: 100), Self.sleeper("s6000", ms: 6000),
        ]))
        let connection = try scripted.daemon.connect()
        let started = ContinuousClock.now
        let id = try connection.sendRequest("tools/batch", ["calls": Self.calls(["s8000", "s100", "s6000"]), "mode": "first", "stream": true])
        let (answer, events) = try response(to: id, on: connection)
        let elapsed = ContinuousClock.now - started
        let result = try #require(answer["result"])
        #expect(result["met"] == true)
        #expect(result["winners"] == [1])
        let results = try #require(result["results"]?.arrayValue)
        #expect(results[1]["structuredContent"] == ["slept": 100])
        #expect(results[0]["_meta"]?["toolformer"]?["cancelled"] == true)
        #expect(results[2]["_meta"]?["toolformer"]?["cancelled"] == true)
        #expect(results[0]["isError"] == true)
        print("mode first over 8000/100/6000 ms answered in \(elapsed)")
        #expect(elapsed < .seconds(5))
        // The losers' processes are gone at once, not left to finish.
        for name in ["s8000", "s6000"] {
            if let pid = pid(scripted, name) { try waitUntil(timeout: .seconds(2)) { gone(pid) } }
        }
        let decided = try #require(events.first { $0["params"]?["type"] == "batch.decided" }?["params"])
        #expect(decided["winners"] == ["1"])
        #expect(Set(decided["cancelled"]?.arrayValue ?? []) == ["0", "2"])
        #expect(events.filter { $0["params"]?["type"] == "tool.cancelled" }.count == 2)
    }

    @Test func quorumReturnsAfterTheSecondSuccess() async throws {
        let scripted = try ToolKindTests.ScriptedDaemon(scripts: Dictionary(uniqueKeysWithValues: [
            Self.sleeper("s4000", ms: 4000), Self.sleeper("s100", ms: 100), Self.sleeper("s200", ms: 200),
        ]))
        let started = ContinuousClock.now
        let result = try scripted.daemon.connect().call("tools/batch", [
            "calls": Self.calls(["s4000", "s100", "s200"]), "mode": "quorum", "minSuccess": 2,
        ])
        let elapsed = ContinuousClock.now - started
        #expect(result["met"] == true)
        // winners come in the order they finished, which process start-up on a loaded machine can
        // swap; which calls won is the point.
        #expect(Set(result["winners"]?.arrayValue ?? []) == [1, 2])
        #expect(result["results"]?.arrayValue?[0]["_meta"]?["toolformer"]?["cancelled"] == true)
        #expect(elapsed >= .milliseconds(200))
        print("quorum 2 of 4000/100/200 ms answered in \(elapsed)")
    }

    @Test func aQuorumThatCannotBeMetEndsAsSoonAsThatIsCertain() async throws {
        let scripted = try ToolKindTests.ScriptedDaemon(scripts: Dictionary(uniqueKeysWithValues: [
            Self.sleeper("f1", ms: 10, fails: true), Self.sleeper("f2", ms: 50, fails: true), Self.sleeper("slow", ms: 12000),
        ]))
        let started = ContinuousClock.now
        let result = try scripted.daemon.connect().call("tools/batch", [
            "calls": Self.calls(["f1", "f2", "slow"]), "mode": "quorum", "minSuccess": 2,
        ])
        let elapsed = ContinuousClock.now - started
        #expect(result["met"] == false)
        #expect(result["succeeded"] == 0)
        let results = try #require(result["results"]?.arrayValue)
        // Failures stay failures; the one still running is cancelled.
        #expect(results[0]["isError"] == true && results[0]["_meta"]?["toolformer"]?["cancelled"] == nil)
        #expect(results[1]["isError"] == true && results[1]["_meta"]?["toolformer"]?["cancelled"] == nil)
        #expect(results[2]["_meta"]?["toolformer"]?["cancelled"] == true)
        #expect(elapsed < .seconds(8), "waited \(elapsed) for a quorum already lost")
        if let pid = pid(scripted, "slow") { try waitUntil(timeout: .seconds(2)) { gone(pid) } }
    }

    @Test func aHedgeAnswersWhenTheFirstAttemptHangsAndTheHungOneIsKilled() async throws {
        // The first run hangs; any later run answers at once.
        let body = """
            if [ -e DIR/ran ]; then echo '{"from":"hedge"}'; exit 0; fi
            touch DIR/ran
            echo $$ > DIR/pid-hung
            sleep 30
            """
        // A second is long enough that the first attempt's process has started before the hedge's
        // even on a loaded machine (with 150 ms, a late first spawn once let the hedge's process
        // hang and the first attempt answer).
        let scripted = try ToolKindTests.ScriptedDaemon(scripts: ["hangs": (body, "idempotent = true\nhedge_after_ms = 1000\ntimeout_ms = 20000")])
        let connection = try scripted.daemon.connect()
        let started = ContinuousClock.now
        let result = try connection.call("tools/call", ["name": "hangs", "arguments": [:]])
        let elapsed = ContinuousClock.now - started
        #expect(result["isError"] == false)
        #expect(result["structuredContent"] == ["from": "hedge"])
        #expect(elapsed >= .milliseconds(1000))
        #expect(elapsed < .seconds(10), "the hedge took \(elapsed)")
        print("hedged call answered in \(elapsed)")
        let hung = try #require(pid(scripted, "hung"))
        try waitUntil(timeout: .seconds(2)) { gone(hung) }
        let hedges = try connection.call("daemon/status")["hedges"]
        #expect(hedges?["started"] == 1)
        #expect(hedges?["won"] == 1)
    }

    @Test func aToolThatIsNotIdempotentIsNeverHedged() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: "[tools.once]\nkind = \"builtin\"\nbuiltin = \"sleep\"\n"))
        let connection = try daemon.connect()
        // The configuration refuses a hedge on a tool that is not marked idempotent...
        try daemon.writeConfig(TestDaemon.config(extra: "[tools.once]\nkind = \"builtin\"\nbuiltin = \"sleep\"\nhedge_after_ms = 10\n"))
        let refused = rpcError { () throws(CallError) in try connection.call("daemon/reload") }
        #expect(refused?.details["key"] == "tools.once.hedge_after_ms")
        // ...and without hedge_after_ms a slow call is never hedged.
        _ = try connection.call("tools/call", ["name": "once", "arguments": ["ms": 200]])
        #expect(try connection.call("daemon/status")["hedges"]?["started"] == 0)
    }

    @Test func badModesAreRefused() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        for (params, field) in [
            (["calls": [["name": "echo"]], "mode": "fastest"] as JSONObject, "mode"),
            (["calls": [["name": "echo"]], "mode": "quorum"], "minSuccess"),
            (["calls": [["name": "echo"]], "mode": "quorum", "minSuccess": 2], "minSuccess"),
        ] {
            let error = rpcError { () throws(CallError) in try connection.call("tools/batch", params) }
            #expect(error?.details["field"] == .string(field))
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }

    init(format milliseconds: Int) {
        self = "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - String(milliseconds % 1000).count))\(milliseconds % 1000)"
    }
}
