import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// The shared orchestrator over the socket: batches, caps, rate limits, streaming.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct OrchestratorTests {
    func sleeps(_ count: Int, ms: Int64, tool: String = "sleep") -> JSONValue {
        .array((0..<count).map { _ in ["name": .string(tool), "arguments": ["ms": .int(ms)]] })
    }

    @Test func twoHundredSleepsRunInParallel() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let started = ContinuousClock.now
        let result = try connection.call("tools/batch", ["calls": sleeps(200, ms: 100)])
        let elapsed = ContinuousClock.now - started
        let results = try #require(result["results"]?.arrayValue)
        #expect(results.count == 200)
        #expect(results.allSatisfy { $0["isError"] == false && $0["structuredContent"]?["sleptMs"] == 100 })
        #expect(elapsed >= .milliseconds(100))
        // One after another they would take 20 s; the room is for a loaded two-core machine.
        #expect(elapsed < .seconds(5), "200 × 100 ms took \(elapsed)")
    }

    @Test func aPerToolCapRunsSixCallsInThreeWaves() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [tools.narrow]
            kind = "builtin"
            builtin = "sleep"
            max_concurrency = 2
            """))
        let connection = try daemon.connect()
        let observer = try daemon.connect()
        let started = ContinuousClock.now
        let id = try connection.sendRequest("tools/batch", ["calls": sleeps(6, ms: 150, tool: "narrow")])
        // While it runs, the daemon never runs more than two.
        var peak: Int64 = 0
        var sawQueue = false
        for _ in 0..<20 {
            let queue = try observer.call("daemon/status")["queues"]?["narrow"]
            peak = max(peak, queue?["running"]?.intValue ?? 0)
            if (queue?["queued"]?.intValue ?? 0) > 0 { sawQueue = true }
            usleep(20_000)
        }
        let results = try #require(try response(to: id, on: connection).response["result"]?["results"]?.arrayValue)
        let elapsed = ContinuousClock.now - started
        #expect(results.allSatisfy { $0["isError"] == false })
        #expect(peak <= 2)
        #expect(sawQueue)
        #expect(elapsed >= .milliseconds(450), "three waves of 150 ms took \(elapsed)")
        #expect(elapsed < .seconds(10))
        // Each call's duration includes its wait, so sorted they come in pairs, each pair at least a
        // wave (150 ms, less a little timer slack) after the one before.
        let durations = results.compactMap { $0["_meta"]?["toolformer"]?["durationMs"]?.intValue }.sorted()
        #expect(durations.count == 6)
        #expect(durations[2] - durations[0] >= 140 && durations[4] - durations[2] >= 140, "\(durations)")
    }

    @Test func theGlobalCapLikewise() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: "[orchestrator]\nmax_concurrency = 2\n"))
        let connection = try daemon.connect()
        let started = ContinuousClock.now
        let results = try #require(try connection.call("tools/batch", ["calls": sleeps(6, ms: 150)])["results"]?.arrayValue)
        let elapsed = ContinuousClock.now - started
        #expect(results.count == 6)
        #expect(elapsed >= .milliseconds(450), "three waves of 150 ms took \(elapsed)")
        #expect(elapsed < .seconds(10))
    }

    @Test func aBatchCapLimitsOnlyThatBatch() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let started = ContinuousClock.now
        _ = try connection.call("tools/batch", ["calls": sleeps(4, ms: 100), "maxConcurrency": 1])
        #expect(ContinuousClock.now - started >= .milliseconds(400))
    }

    @Test func oneClientsBigBatchDoesNotStarveAnotherClientsCall() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: "[orchestrator]\nmax_concurrency = 4\n"))
        let batcher = try daemon.connect()
        _ = try batcher.sendRequest("tools/batch", ["calls": sleeps(800, ms: 100)])
        usleep(100_000)
        // 800 × 100 ms at 4 at a time is 20 s of queue; a fair scheduler serves this call next
        // (within one wave, plus whatever a loaded machine adds: a CI run saw 3.3 s).
        let other = try daemon.connect()
        let started = ContinuousClock.now
        let result = try other.call("tools/call", ["name": "echo", "arguments": ["x": 1]], timeout: .seconds(30))
        #expect(result["isError"] == false)
        #expect(ContinuousClock.now - started < .seconds(8))
    }

    @Test func rateLimitsSpaceCallsAndRefuseOverlongWaits() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [rate_limits.api]
            requests_per_second = 10
            burst = 1
            max_wait_ms = 1000

            [tools.limited]
            kind = "builtin"
            builtin = "echo"
            rate_limit = "api"

            [rate_limits.slow]
            requests_per_minute = 60
            burst = 1
            max_wait_ms = 1000

            [tools.slowlimited]
            kind = "builtin"
            builtin = "echo"
            rate_limit = "slow"
            """))
        let connection = try daemon.connect()
        let started = ContinuousClock.now
        let calls: JSONValue = .array((0..<5).map { index in ["name": "limited", "arguments": ["i": .int(Int64(index))]] })
        let id = try connection.sendRequest("tools/batch", ["calls": calls, "stream": true])
        let (answer, events) = try response(to: id, on: connection)
        let elapsed = ContinuousClock.now - started
        #expect(answer["result"]?["results"]?.arrayValue?.allSatisfy { $0["isError"] == false } == true)
        // One at once, then one every 100 ms.
        #expect(elapsed >= .milliseconds(390), "5 calls at 10/s took \(elapsed)")
        #expect(events.filter { $0["params"]?["type"] == "ratelimit.wait" }.count >= 3)

        // At one a second with a burst of one and max_wait_ms 1000: of a batch of three, the first
        // runs, the second waits 1 s, the third would wait 2 s and is refused. Another client's call
        // made within a second of that would wait more than 1 s too: refused at once, with how long.
        let many: JSONValue = .array((0..<3).map { _ in ["name": "slowlimited", "arguments": [:]] })
        let flood = try connection.sendRequest("tools/batch", ["calls": many])
        let other = try daemon.connect()
        try waitUntil(timeout: .seconds(10)) {
            (try other.call("daemon/status")["rateLimits"]?["slow"]?["level"]?.numberValue ?? 0) < -0.5
        }
        let error = rpcError { () throws(CallError) in try other.call("tools/call", ["name": "slowlimited", "arguments": [:]]) }
        #expect(error?.rpcCode == -32004)
        #expect(error?.name == "rate_limited")
        #expect((error?.details["retryAfterMs"]?.intValue ?? 0) > 1000)
        let floodResults = try #require(try response(to: flood, on: connection).response["result"]?["results"]?.arrayValue)
        // The batch's own calls past max_wait_ms are results that say so, with the error's code.
        let refused = floodResults.indices.filter { floodResults[$0]["_meta"]?["toolformer"]?["error"]?["code"] == -32004 }
        #expect(refused == [2])
        #expect(floodResults[2]["isError"] == true)
        #expect(floodResults[0]["isError"] == false && floodResults[1]["isError"] == false)
    }

    @Test func aBatchStreamsEachCallAsItFinishesFastestFirst() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let calls: JSONValue = [
            ["name": "sleep", "arguments": ["ms": 300]], ["name": "sleep", "arguments": ["ms": 10]],
            ["name": "sleep", "arguments": ["ms": 150]],
        ]
        let id = try connection.sendRequest("tools/batch", ["calls": calls, "stream": true])
        let (answer, events) = try response(to: id, on: connection)
        let finished = events.filter { $0["params"]?["type"] == "tool.finished" }
        #expect(finished.map { $0["params"]?["callId"] } == ["1", "2", "0"])
        let seqs = events.compactMap { $0["params"]?["seq"]?.intValue }
        #expect(seqs == Array(1...Int64(seqs.count)))
        // Results keep the order of calls.
        #expect(answer["result"]?["results"]?.arrayValue?.map { $0["structuredContent"]?["sleptMs"] } == [300, 10, 150])
    }

    @Test func aBatchWithOneBadCallRunsNothing() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        for (params, field) in [
            (["calls": [["name": "sleep", "arguments": ["ms": 1]], ["name": "sleep", "arguments": ["ms": "x"]]]] as JSONObject, "calls[1].arguments.ms"),
            (["calls": [["name": "nope"]]], "calls[0].name"),
            (["calls": [1]], "calls[0]"),
            (["calls": []], "calls"),
            (["calls": [["name": "echo"]], "maxConcurrency": 0], "maxConcurrency"),
        ] {
            let error = rpcError { () throws(CallError) in try connection.call("tools/batch", params) }
            #expect(error?.rpcCode == -32602)
            #expect(error?.details["field"] == .string(field), "\(String(describing: error))")
        }
    }

    @Test func statusShowsQueuesAndBuckets() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [rate_limits.api]
            requests_per_minute = 60
            burst = 5
            """))
        let status = try daemon.connect().call("daemon/status")
        #expect(status["queues"]?["global"]?["limit"] == 512)
        #expect(status["rateLimits"]?["api"]?["capacity"] == 5.0)
        #expect(status["rateLimits"]?["api"]?["level"] == 5.0)
        #expect(status["rateLimits"]?["api"]?["ratePerSecond"] == 1.0)
    }
}
