import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// Two real daemons (two sockets) on one real redis-server: shared results, shared budgets,
/// single-flight across hosts, and what happens when Redis goes away and comes back.
/// Serialized: two daemons and a Redis at a time, not sixteen and eight, so the rest of the
/// suite's timing bounds do not pay for this one.
@Suite(.timeLimit(.minutes(2)), .ownThread, .serialized)
struct ClusterTests {
    /// Two daemons with the same configuration: a `[cluster]` on `redis`, and an exec tool
    /// `count` that appends a line to DIR/runs each time it runs (after `DELAY` seconds) and
    /// echoes its input.
    final class TwoDaemons {
        let redis: RedisServer
        let directory: String
        let a: TestDaemon
        let b: TestDaemon

        /// `commandTimeoutMs` is generous by default: a loaded machine must not look like a slow Redis.
        init(redis: RedisServer? = nil, delay: String = "0", commandTimeoutMs: Int = 1000, extra: String = "") throws {
            self.redis = try redis ?? RedisServer()
            var template = Array("/tmp/toolformer-cluster-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
            directory = String(cString: made)
            let script = directory + "/count.sh"
            let sleep = delay.replacingDir(directory)
            try TestDaemon.writeExecutable(script, "#!/bin/sh\necho $$ >> \(directory)/pids\necho run >> \(directory)/runs\nsleep \(sleep)\ncat\n")
            let config = TestDaemon.config(extra: """
                [cluster]
                redis_url = "\(self.redis.url)"
                key_prefix = "test:"
                connect_timeout_ms = 1000
                command_timeout_ms = \(commandTimeoutMs)

                [tools.count]
                kind = "exec"
                argv = ["\(script)"]
                cache_ttl_s = 60

                \(extra)
                """)
            a = try TestDaemon(config: config)
            b = try TestDaemon(config: config)
        }

        deinit { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }

        var runs: Int { ((try? TestDaemon.readFile(directory + "/runs")) ?? "").split(separator: "\n").count }
    }

    func cluster(_ daemon: TestDaemon) throws -> JSONValue? { try daemon.connect().call("daemon/status")["cluster"] }

    /// Sends `calls` requests on `connection` at once (pipelined), then reads every response.
    func pipelined(_ connection: ToolformerConnection, _ calls: [JSONObject]) throws -> [JSONObject] {
        let ids = try calls.map { try connection.sendRequest("tools/call", $0) }
        var responses: [RequestID: JSONObject] = [:]
        while responses.count < ids.count {
            let message = try connection.readMessage(timeout: .seconds(20))
            if let id = message["id"].flatMap(RequestID.init), message["method"] == nil { responses[id] = message }
        }
        return ids.map { responses[$0]! }
    }

    func waitFor(_ state: String, _ daemons: [TestDaemon], timeout: Duration = .seconds(15)) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try daemons.allSatisfy({ try cluster($0)?["state"] == .string(state) }) { return }
            usleep(50_000)
        }
        throw TestDaemonError("the daemons did not reach \(state): \(try daemons.map { try cluster($0) ?? .null })")
    }

    @Test func aResultFetchedOnOneDaemonServesTheOther() async throws {
        let pair = try TwoDaemons()
        let first = try pair.a.connect().call("tools/call", ["name": "count", "arguments": ["city": "Oslo", "n": 1]])
        #expect(first["_meta"]?["toolformer"]?["cached"] == false)
        // The other daemon, keys in another order: the same canonical key, read from Redis.
        let second = try pair.b.connect().call("tools/call", ["name": "count", "arguments": ["n": 1, "city": "Oslo"]])
        #expect(second["_meta"]?["toolformer"]?["cached"] == true)
        #expect(second["structuredContent"] == first["structuredContent"])
        #expect(pair.runs == 1)
        let status = try pair.b.connect().call("daemon/status")
        #expect(status["cluster"]?["state"] == "shared")
        #expect(status["cluster"]?["sharedHits"] == 1)
        #expect(status["cache"]?["shared"]?["hits"] == 1)
        #expect(status["cluster"]?["rttMs"]?.numberValue != nil)
        let metrics = try pair.b.connect().call("daemon/metrics")["text"]?.stringValue ?? ""
        #expect(metrics.contains("toolformer_cluster_shared 1\n"))
        #expect(metrics.contains("toolformer_cluster_shared_hits_total 1\n"))
        // The key is the SHA-256 of the canonical key, under the prefix; the value has a TTL.
        let keys = try pair.redis.cli(["--scan", "--pattern", "test:cache:tool:count:*"]).split(separator: "\n")
        #expect(keys.count == 1)
        #expect(keys.first?.utf8.count == "test:cache:tool:count:".utf8.count + 64)
        let ttl = Int(try pair.redis.cli(["PTTL", String(keys[0])])) ?? 0
        #expect(ttl > 50_000 && ttl <= 60_000)
        // Different arguments: a miss everywhere.
        _ = try pair.b.connect().call("tools/call", ["name": "count", "arguments": ["city": "Bergen"]])
        #expect(pair.runs == 2)
        // cache/clear on one daemon clears the shared tier for both.
        let cleared = try pair.a.connect().call("cache/clear", ["tool": "count"])
        #expect(cleared["removedFromDisk"] == 2)
        #expect(try pair.redis.cli(["--scan", "--pattern", "test:cache:*"]) == "")
    }

    @Test func twentyIdenticalCallsAcrossBothDaemonsRunOnce() async throws {
        let pair = try TwoDaemons(delay: "0.4")
        let call: JSONObject = ["name": "count", "arguments": ["q": "same"]]
        let connectionA = try pair.a.connect()
        let connectionB = try pair.b.connect()
        let idsA = try (0..<10).map { _ in try connectionA.sendRequest("tools/call", call) }
        let idsB = try (0..<10).map { _ in try connectionB.sendRequest("tools/call", call) }
        var results: [JSONObject] = []
        for (connection, ids) in [(connectionA, idsA), (connectionB, idsB)] {
            var seen = 0
            while seen < ids.count {
                let message = try connection.readMessage(timeout: .seconds(20))
                guard message["method"] == nil else { continue }
                seen += 1
                results.append(message)
            }
        }
        #expect(results.count == 20)
        #expect(results.allSatisfy { $0["result"]?["isError"] == false }, "\(results.filter { $0["result"]?["isError"] != false })")
        #expect(Set(results.compactMap { $0["result"]?["structuredContent"] }).count == 1)
        #expect(pair.runs == 1)
        let waits = try [pair.a, pair.b].map { try cluster($0)?["leaseWaits"]?.intValue ?? 0 }
        #expect(waits.reduce(0, +) >= 1, "one daemon waited on the other's lease: \(waits)")
    }

    @Test func aDaemonThatDiesHoldingALeaseHoldsTheOthersUpOnlyUntilItExpires() async throws {
        let pair = try TwoDaemons(delay: "$(cat DIR/delay)")
        try TestDaemon.writeFile(pair.directory + "/delay", "30\n")
        let call: JSONObject = ["name": "count", "arguments": ["q": "slow"]]
        let connectionA = try pair.a.connect()
        _ = try connectionA.sendRequest("tools/call", call)
        try eventually { pair.runs == 1 }
        let connectionB = try pair.b.connect()
        let started = ContinuousClock.now
        let id = try connectionB.sendRequest("tools/call", call)
        usleep(200_000)
        // A dies mid-run; its lease is not renewed any more and expires within 3 s.
        try TestDaemon.writeFile(pair.directory + "/delay", "0\n")
        pair.a.signal(SIGKILL)
        let (answer, _) = try response(to: id, on: connectionB, timeout: .seconds(20))
        #expect(answer["result"]?["isError"] == false, "\(answer)")
        #expect(ContinuousClock.now - started < .seconds(8))
        #expect(pair.runs == 2)
        #expect(try cluster(pair.b)?["leaseWaits"] == 1)
        // The dead daemon's tool run (its own process group) is still sleeping: end it.
        for pid in try TestDaemon.readFile(pair.directory + "/pids").split(separator: "\n").compactMap({ pid_t($0) }) {
            kill(-pid, SIGKILL)
        }
    }

    @Test func aSharedBucketAdmitsItsRateAcrossBothDaemons() async throws {
        let pair = try TwoDaemons(extra: """
            [rate_limits.team]
            requests_per_second = 10
            burst = 10
            max_wait_ms = 0
            shared = true

            [tools.limited]
            kind = "builtin"
            builtin = "echo"
            rate_limit = "team"
            """)
        let connectionA = try pair.a.connect()
        let connectionB = try pair.b.connect()
        let started = ContinuousClock.now
        let calls: [JSONObject] = (0..<20).map { ["name": "limited", "arguments": ["i": .int(Int64($0))]] }
        let idsA = try calls.map { try connectionA.sendRequest("tools/call", $0) }
        let idsB = try calls.map { try connectionB.sendRequest("tools/call", $0) }
        var admitted = 0
        var refused = 0
        for (connection, count) in [(connectionA, idsA.count), (connectionB, idsB.count)] {
            var seen = 0
            while seen < count {
                let message = try connection.readMessage(timeout: .seconds(20))
                guard message["method"] == nil else { continue }
                seen += 1
                if message["result"] != nil { admitted += 1 }
                if message["error"]?["code"] == -32004 { refused += 1 }
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // The burst, plus what refills while the calls arrive; two separate buckets would admit 20 at once.
        #expect(admitted >= 10)
        #expect(Double(admitted) <= 10 + 10 * seconds + 1, "admitted \(admitted) in \(seconds) s")
        #expect(admitted + refused == 40)
        let levels = try [pair.a, pair.b].map { try $0.connect().call("daemon/status")["rateLimits"]?["team"] }
        #expect(levels.allSatisfy { $0?["shared"] == true && $0?["mode"] == "shared" })
    }

    @Test func redisStoppedMidRunLosesNoRequestAndSharingResumes() async throws {
        let pair = try TwoDaemons(extra: """
            [rate_limits.team]
            requests_per_second = 1000
            shared = true
            local_share = 0.5

            [tools.limited]
            kind = "builtin"
            builtin = "echo"
            rate_limit = "team"
            """)
        let connections = [try pair.a.connect(), try pair.b.connect()]
        _ = try connections[0].call("tools/call", ["name": "count", "arguments": ["k": 1]])
        #expect(pair.runs == 1)
        var failures: [String] = []
        var answered = 0
        for round in 0..<12 {
            if round == 4 { pair.redis.stop() }
            for (index, connection) in connections.enumerated() {
                let batch: [JSONObject] = [
                    ["name": "count", "arguments": ["k": 1]],
                    ["name": "limited", "arguments": ["r": .int(Int64(round))]],
                    ["name": "count", "arguments": ["k": .int(Int64(100 + round))]],
                ]
                for response in try pipelined(connection, batch) {
                    if response["result"]?["isError"] == false { answered += 1 } else { failures.append("\(index): \(response)") }
                }
            }
            usleep(50_000)
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(answered == 72)
        try waitFor("degraded", [pair.a, pair.b])
        let degraded = try #require(try cluster(pair.a))
        #expect(degraded["fallbacks"]?.intValue ?? 0 > 0)
        #expect(degraded["reason"]?.stringValue?.isEmpty == false)
        #expect(pair.a.log.contains("Redis unreachable"))
        let limited = try pair.a.connect().call("daemon/status")["rateLimits"]?["team"]
        #expect(limited?["mode"] == "local")
        let summary = try ctl(pair.a, ["status"]).stdout
        #expect(summary.contains("degraded on redis://127.0.0.1:\(pair.redis.port)/0"), "\(summary)")
        #expect(summary.contains("shared (local)"), "\(summary)")

        try pair.redis.start()
        try waitFor("shared", [pair.a, pair.b])
        let runsBefore = pair.runs
        _ = try connections[0].call("tools/call", ["name": "count", "arguments": ["after": true]])
        let shared = try connections[1].call("tools/call", ["name": "count", "arguments": ["after": true]])
        #expect(shared["_meta"]?["toolformer"]?["cached"] == true)
        #expect(pair.runs == runsBefore + 1)
        // Once per transition, not per request.
        #expect(pair.a.log.components("Redis unreachable") == 1)
        #expect(pair.a.log.components("Redis answers again") == 1)
    }

    @Test func aRedisThatStopsAnsweringIsSlowNotFatal() async throws {
        let pair = try TwoDaemons(commandTimeoutMs: 300)
        let connections = [try pair.a.connect(), try pair.b.connect()]
        _ = try connections[0].call("tools/call", ["name": "count", "arguments": ["k": 1]])
        pair.redis.pause()
        defer { pair.redis.resume() }
        let started = ContinuousClock.now
        for (index, connection) in connections.enumerated() {
            for round in 0..<3 {
                let result = try connection.call("tools/call", ["name": "count", "arguments": ["k": .int(Int64(round))]])
                #expect(result["isError"] == false, "\(index): \(result)")
            }
        }
        // The first command on each daemon waits out command_timeout_ms (300 ms); after that,
        // degraded mode does not ask Redis at all.
        #expect(ContinuousClock.now - started < .seconds(6))
        try waitFor("degraded", [pair.a, pair.b])
        #expect(try cluster(pair.a)?["reason"]?.stringValue?.contains("command_timeout_ms") == true)
        pair.redis.resume()
        try waitFor("shared", [pair.a, pair.b])
    }

    @Test func aWrongPasswordIsRefusedAtStartAndOnReload() async throws {
        let redis = try RedisServer(password: "right-horse-battery")
        var template = Array("/tmp/toolformer-pw-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
        let directory = String(cString: made)
        defer { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }
        try TestDaemon.writeFile(directory + "/right", "right-horse-battery\n")
        try TestDaemon.writeFile(directory + "/wrong", "wrong-staple-9\n")
        func config(_ file: String) -> String {
            TestDaemon.config(extra: "[cluster]\nredis_url = \"\(redis.url)\"\npassword_file = \"\(directory)/\(file)\"\n")
        }

        let refused = try TestDaemon(config: config("wrong"), waitUntilReady: false)
        #expect(try refused.waitForExit(timeout: .seconds(20)) == 1)
        #expect(refused.log.contains("cluster.password_file"), "\(refused.log)")
        #expect(refused.log.contains("WRONGPASS"))
        #expect(!refused.log.contains("wrong-staple-9") && !refused.log.contains("right-horse"))

        let daemon = try TestDaemon(config: config("right"))
        let connection = try daemon.connect()
        #expect(try cluster(daemon)?["state"] == "shared")
        try daemon.writeConfig(config("wrong"))
        let error = rpcError { () throws(CallError) in try connection.call("daemon/reload") }
        #expect(error?.details["key"] == "cluster.password_file")
        #expect(error?.details["file"] == .string(daemon.configPath))
        #expect(error?.details["reason"]?.stringValue?.contains("WRONGPASS") == true)
        #expect(error?.message.contains("wrong-staple-9") == false)
        #expect(try cluster(daemon)?["state"] == "shared")
        _ = try connection.call("tools/call", ["name": "echo", "arguments": [:]])

        // A rotated password: the server's changes, the file follows, a reload picks it up.
        try redis.cli(["CONFIG", "SET", "requirepass", "new-horse-battery"])
        try TestDaemon.writeFile(directory + "/right", "new-horse-battery\n")
        try daemon.writeConfig(config("right"))
        #expect(try connection.call("daemon/reload")["reloaded"] == true)
        #expect(try cluster(daemon)?["state"] == "shared")
        #expect(daemon.log.contains("cluster: new Redis settings"))
        #expect(!daemon.log.contains("wrong-staple-9") && !daemon.log.contains("horse-battery"))
    }

    @Test func anUnreachableRedisAtStartUpStartsDegraded() async throws {
        let port = try RedisServer.freePort()
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [cluster]
            redis_url = "redis://127.0.0.1:\(port)/0"
            connect_timeout_ms = 200

            [tools.cached]
            kind = "builtin"
            builtin = "echo"
            cache_ttl_s = 60
            """))
        let connection = try daemon.connect()
        #expect(try cluster(daemon)?["state"] == "degraded")
        for _ in 0..<2 { _ = try connection.call("tools/call", ["name": "cached", "arguments": ["x": 1]]) }
        let status = try connection.call("daemon/status")
        #expect(status["cache"]?["hits"] == 1)
        #expect(status["cluster"]?["reason"]?.stringValue?.contains("connection refused") == true)
        let metrics = try connection.call("daemon/metrics")["text"]?.stringValue ?? ""
        #expect(metrics.contains("toolformer_cluster_shared 0"), "\(metrics.prefix(300))")
    }
}

extension String {
    fileprivate func components(_ needle: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.range(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
