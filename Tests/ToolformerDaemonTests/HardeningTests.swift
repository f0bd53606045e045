import Testing
#if canImport(Glibc)
import Glibc
#endif
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

/// Bounded resources: connections per uid, the queue of waiting tool calls, result sizes, and
/// clients that stop reading.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct HardeningTests {
    @Test func oneUidCannotTakeEveryConnection() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: "max_connections_per_uid = 2"))
        let first = try admittedConnection(daemon)
        let second = try admittedConnection(daemon)
        let third = try daemon.connect()
        let refusal = try third.readMessage(timeout: .seconds(10))
        expectError(refusal, code: -32002, name: "overloaded")
        #expect(refusal["error"]?["message"]?.stringValue?.contains("max_connections_per_uid") == true)
        #expect(refusal["error"]?["data"]?["retryAfterMs"]?.intValue ?? 0 > 0)
        #expect(throws: ClientError.self) { _ = try third.readMessage(timeout: .seconds(10)) }
        second.close()
        let fourth = try admittedConnection(daemon)
        try expectAlive(fourth)
        try expectAlive(first)
    }

    @Test func aFullQueueAnswersOverloadedAndRecovers() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(
            extra: "[orchestrator]\nmax_concurrency = 1\nmax_queued = 2"))
        let connection = try daemon.connect()
        for id in 1...6 {
            try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 300]], id: .int(Int64(id)))
        }
        var results = 0
        var refusals: [JSONObject] = []
        for _ in 1...6 {
            let message = try connection.readMessage(timeout: .seconds(10))
            if message["result"]?["isError"] == false { results += 1 } else { refusals.append(message) }
        }
        // One runs, two wait, three are refused at once.
        #expect(results == 3)
        #expect(refusals.count == 3)
        for refusal in refusals {
            expectError(refusal, code: -32002, name: "overloaded", id: refusal["id"] ?? .null)
            #expect(refusal["error"]?["data"]?["retryAfterMs"]?.intValue ?? 0 > 0)
            #expect(refusal["error"]?["data"]?["retryable"] == true)
        }
        // The queue moved: calls are taken again, and status counted the refusals.
        #expect(try connection.call("tools/call", ["name": "sleep", "arguments": ["ms": 1]])["isError"] == false)
        let status = try connection.call("daemon/status")
        #expect(status["overloadRefusals"] == 3)
        #expect(status["maxQueued"] == 2)
    }

    @Test func aResultPastMaxResultBytesIsCutWithAMarker() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: "[orchestrator]\nmax_result_bytes = 4096"))
        let connection = try daemon.connect()
        // Multi-byte characters, so that a cut in the middle of one would show.
        let long = String(repeating: "é-ü-", count: 3000)
        let result = try connection.call("tools/call", ["name": "echo", "arguments": ["text": .string(long)]])
        let text = try #require(result["content"]?.arrayValue?.first?["text"]?.stringValue)
        #expect(text.utf8.count <= 4096)
        #expect(text.contains("[toolformerd: result truncated: 4096 of "))
        #expect(result["structuredContent"] == nil)
        #expect(result["_meta"]?["toolformer"]?["truncated"] == true)
        #expect(result["isError"] == false)
        // A small result is untouched and not marked.
        let small = try connection.call("tools/call", ["name": "echo", "arguments": ["text": "hi"]])
        #expect(small["structuredContent"]?["text"] == "hi")
        #expect(small["_meta"]?["toolformer"]?["truncated"] == nil)
    }

    @Test func aClientThatStopsReadingIsDroppedWhileOthersAreServed() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(
            server: "slow_reader_timeout_ms = 500",
            extra: #"""
                [tools.big]
                kind = "exec"
                argv = ["/bin/sh", "-c", "head -c 262144 /dev/zero | tr '\\0' x"]
                """#))
        let slow = try daemon.connect()
        let other = try daemon.connect()
        try expectAlive(other)
        // 40 answers of 256 KiB: far more than the socket holds. This client never reads them.
        for id in 1...40 {
            try slow.sendRequest("tools/call", ["name": "big", "arguments": [:]], id: .int(Int64(id)))
        }
        // The other connection keeps getting answers while the slow one fills up and is dropped.
        let started = ContinuousClock.now
        var dropped = false
        while ContinuousClock.now - started < .seconds(15) {
            try expectAlive(other)
            let status = try other.call("daemon/status")
            if status["slowReadersDropped"] == 1 && status["connections"] == 1 {
                dropped = true
                break
            }
            usleep(50_000)
        }
        #expect(dropped, "the slow reader was not dropped")
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        // What the slow client finds when it finally reads: some answers, then the end.
        var lines = 0
        while let line = try? slow.readLine(timeout: .seconds(5)), line.isEmpty == false { lines += 1 }
        #expect(lines < 40)
        #expect(daemon.log.contains("the client left answers unread"))
        try expectAlive(other)
    }
}
