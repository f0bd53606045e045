import Synchronization
import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// The shared result cache and the shared HTTP pool, over the socket.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct CacheTests {
    /// An exec tool that appends a line to DIR/runs each time it runs, then echoes its input
    /// (after `delay`), so a test can count real runs.
    static let counter = "echo run >> DIR/runs\nsleep ${DELAY:-0}\ncat"

    func runs(_ scripted: ToolKindTests.ScriptedDaemon) -> Int {
        ((try? TestDaemon.readFile(scripted.directory + "/runs")) ?? "").split(separator: "\n").count
    }

    func counting(_ toml: String = "cache_ttl_s = 60", env: String = "", extra: String = "") throws -> ToolKindTests.ScriptedDaemon {
        try ToolKindTests.ScriptedDaemon(scripts: ["count": (Self.counter, toml + (env.isEmpty ? "" : "\nenv = { \(env) }"))], extra: extra)
    }

    @Test func twoClientsAskingTheSameQuestionPayOnce() async throws {
        let scripted = try counting()
        let a = try scripted.daemon.connect()
        let b = try scripted.daemon.connect()
        let first = try a.call("tools/call", ["name": "count", "arguments": ["a": 1, "b": [1, 2]]])
        #expect(first["_meta"]?["toolformer"]?["cached"] == false)
        // Another client, keys in another order: the same entry.
        let second = try b.call("tools/call", ["name": "count", "arguments": ["b": [1, 2], "a": 1]])
        #expect(second["_meta"]?["toolformer"]?["cached"] == true)
        #expect(second["structuredContent"] == first["structuredContent"])
        #expect(second["content"] == first["content"])
        #expect(runs(scripted) == 1)
        // Different arguments: a miss.
        _ = try b.call("tools/call", ["name": "count", "arguments": ["a": 2]])
        #expect(runs(scripted) == 2)
        let status = try a.call("daemon/status")["cache"]
        #expect(status?["hits"] == 1)
        #expect(status?["misses"] == 2)
        #expect(status?["entries"] == 2)
    }

    @Test func bypassAndRefresh() async throws {
        let scripted = try counting()
        let connection = try scripted.daemon.connect()
        _ = try connection.call("tools/call", ["name": "count", "arguments": ["x": 1]])
        let bypassed = try connection.call("tools/call", ["name": "count", "arguments": ["x": 1], "cache": "bypass"])
        #expect(bypassed["_meta"]?["toolformer"]?["cached"] == false)
        #expect(runs(scripted) == 2)
        let refreshed = try connection.call("tools/call", ["name": "count", "arguments": ["x": 1], "cache": "refresh"])
        #expect(refreshed["_meta"]?["toolformer"]?["cached"] == false)
        #expect(runs(scripted) == 3)
        #expect(try connection.call("tools/call", ["name": "count", "arguments": ["x": 1]])["_meta"]?["toolformer"]?["cached"] == true)
        #expect(runs(scripted) == 3)
    }

    @Test func expiredEntriesAreNeverServed() async throws {
        let scripted = try counting("cache_ttl_s = 1")
        let connection = try scripted.daemon.connect()
        _ = try connection.call("tools/call", ["name": "count", "arguments": [:]])
        _ = try connection.call("tools/call", ["name": "count", "arguments": [:]])
        #expect(runs(scripted) == 1)
        usleep(1_100_000)
        let after = try connection.call("tools/call", ["name": "count", "arguments": [:]])
        #expect(after["_meta"]?["toolformer"]?["cached"] == false)
        #expect(runs(scripted) == 2)
    }

    @Test func aChangedDefinitionMissesAfterReload() async throws {
        let scripted = try counting(env: "VERSION = \"1\"")
        let connection = try scripted.daemon.connect()
        _ = try connection.call("tools/call", ["name": "count", "arguments": [:]])
        _ = try connection.call("tools/call", ["name": "count", "arguments": [:]])
        #expect(runs(scripted) == 1)
        // Same name, another definition.
        let config = try TestDaemon.readFile(scripted.daemon.configPath)
        try scripted.daemon.writeConfig(config.replacingFirst("VERSION = \"1\"", with: "VERSION = \"2\""))
        _ = try connection.call("daemon/reload")
        let after = try connection.call("tools/call", ["name": "count", "arguments": [:]])
        #expect(after["_meta"]?["toolformer"]?["cached"] == false)
        #expect(runs(scripted) == 2)
    }

    @Test func twentyConcurrentIdenticalCallsRunTheToolOnce() async throws {
        let scripted = try counting(env: "DELAY = \"0.3\"")
        let connections = try (0..<4).map { _ in try scripted.daemon.connect() }
        for (index, connection) in connections.enumerated() {
            for id in 0..<5 {
                try connection.sendRequest("tools/call", ["name": "count", "arguments": ["q": "same"]], id: .int(Int64(index * 100 + id)))
            }
        }
        var cachedCount = 0
        for connection in connections {
            for _ in 0..<5 {
                let message = try connection.readMessage(timeout: .seconds(10))
                #expect(message["result"]?["structuredContent"] == ["q": "same"])
                if message["result"]?["_meta"]?["toolformer"]?["cached"] == true { cachedCount += 1 }
            }
        }
        #expect(runs(scripted) == 1)
        #expect(cachedCount == 19)
    }

    @Test func theFirstCallerCancellingLeavesTheOthersServed() async throws {
        let scripted = try counting(env: "DELAY = \"0.4\"")
        let first = try scripted.daemon.connect()
        let second = try scripted.daemon.connect()
        try first.sendRequest("tools/call", ["name": "count", "arguments": ["k": 1]], id: 1)
        try waitUntil(timeout: .seconds(5)) { runs(scripted) == 1 }
        try second.sendRequest("tools/call", ["name": "count", "arguments": ["k": 1]], id: 1)
        // Cancel only once the second call has joined the run: before that, the first caller is
        // rightly the run's last member, and cancelling it stops the run.
        let observer = try scripted.daemon.connect()
        try waitUntil(timeout: .seconds(5)) {
            (try? observer.call("daemon/status"))?["cache"]?["sharedJoins"] == 1
        }
        try first.sendNotification("notifications/cancelled", ["requestId": 1])
        expectError(try first.readMessage(timeout: .seconds(5)), code: -32800, name: "cancelled", id: 1)
        let served = try second.readMessage(timeout: .seconds(5))
        #expect(served["result"]?["structuredContent"] == ["k": 1])
        #expect(runs(scripted) == 1)
    }

    @Test func aFailureIsSeenByAllAndNothingIsCached() async throws {
        let scripted = try ToolKindTests.ScriptedDaemon(scripts: ["fail": ("echo run >> DIR/runs\nsleep 0.2\necho bad >&2\nexit 1", "cache_ttl_s = 60")])
        let a = try scripted.daemon.connect()
        let b = try scripted.daemon.connect()
        try a.sendRequest("tools/call", ["name": "fail", "arguments": [:]], id: 1)
        try b.sendRequest("tools/call", ["name": "fail", "arguments": [:]], id: 1)
        #expect(try a.readMessage(timeout: .seconds(5))["result"]?["isError"] == true)
        #expect(try b.readMessage(timeout: .seconds(5))["result"]?["isError"] == true)
        #expect(((try? TestDaemon.readFile(scripted.directory + "/runs")) ?? "").split(separator: "\n").count == 1)
        _ = try a.call("tools/call", ["name": "fail", "arguments": [:]])
        #expect(((try? TestDaemon.readFile(scripted.directory + "/runs")) ?? "").split(separator: "\n").count == 2)
    }

    @Test func aMemoryHitIsAnsweredAtOnceWithoutTakingAnInflightSlot() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(
            server: "max_inflight_per_connection = 1",
            extra: "[tools.cached]\nkind = \"builtin\"\nbuiltin = \"echo\"\ncache_ttl_s = 600"))
        let connection = try daemon.connect()
        let fill = try connection.call("tools/call", ["name": "cached", "arguments": ["k": 1]])
        #expect(fill["_meta"]?["toolformer"]?["cached"] == false)
        // The connection's one in-flight slot is taken by a slow call...
        try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 500]], id: 1)
        // ...and a hit is still answered, at once, before it: it needs no task, so no slot.
        try connection.sendRequest("tools/call", ["name": "cached", "arguments": ["k": 1]], id: 2)
        let hit = try connection.readMessage(timeout: .seconds(10))
        #expect(hit["id"] == 2)
        #expect(hit["result"]?["_meta"]?["toolformer"]?["cached"] == true)
        #expect(hit["result"]?["structuredContent"] == ["k": 1])
        // A miss does need a slot, and there is none.
        try connection.sendRequest("tools/call", ["name": "cached", "arguments": ["k": 2]], id: 3)
        expectError(try connection.readMessage(timeout: .seconds(10)), code: -32002, name: "overloaded", id: 3)
        #expect(try response(to: .int(1), on: connection).response["result"]?["isError"] == false)
        // A hit that asks for events goes the long way and gets them.
        let streamed = try connection.sendRequest(
            "tools/call", ["name": "cached", "arguments": ["k": 1], "stream": true])
        let (answer, events) = try response(to: streamed, on: connection)
        #expect(answer["result"]?["_meta"]?["toolformer"]?["cached"] == true)
        #expect(events.contains { $0["params"]?["type"] == "tool.finished" })
    }

    @Test func theByteBudgetEvictsLeastRecentlyUsedFirst() async throws {
        // Each entry costs about 1.2 KB (the value with the pad, a key of fixed size, bookkeeping):
        // 5,000 bytes hold four, and a fifth evicts the least recently used.
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [cache]
            max_bytes = 5000
            compress_min_bytes = 1000000
            [tools.big]
            kind = "builtin"
            builtin = "echo"
            cache_ttl_s = 600
            """))
        let connection = try daemon.connect()
        let pad = String(repeating: "x", count: 1000)
        func call(_ name: String) throws -> Bool {
            try connection.call("tools/call", ["name": "big", "arguments": ["k": .string(name), "pad": .string(pad)]])["_meta"]?["toolformer"]?["cached"] == true
        }
        for name in ["a", "b", "c", "d"] { #expect(try !call(name)) }
        #expect(try call("a"))   // a is now the most recently used
        #expect(try !call("e"))  // over budget: b, the least recently used, goes
        #expect(try call("a"))
        #expect(try call("c"))
        #expect(try call("d"))
        #expect(try !call("b"))
        let status = try connection.call("daemon/status")["cache"]
        #expect((status?["evictions"]?.intValue ?? 0) >= 1)
        #expect((status?["bytes"]?.intValue ?? .max) <= 5000)
        #expect(status?["entries"] == 4)
    }

    @Test func largeValuesRoundTripThroughCompression() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [cache]
            compress_min_bytes = 1024
            [tools.big]
            kind = "builtin"
            builtin = "echo"
            cache_ttl_s = 600
            """))
        let connection = try daemon.connect()
        let text = (0..<5000).map { "line \($0) é 😀 \"quoted\"" }.joined(separator: "\n")
        let arguments: JSONObject = ["text": .string(text), "n": .int(Int64.max), "list": .array((0..<500).map { .int($0) })]
        let first = try connection.call("tools/call", ["name": "big", "arguments": .object(arguments)])
        let second = try connection.call("tools/call", ["name": "big", "arguments": .object(arguments)])
        #expect(second["_meta"]?["toolformer"]?["cached"] == true)
        #expect(second["structuredContent"] == .object(arguments))
        #expect(second["content"] == first["content"])
        let status = try connection.call("daemon/status")["cache"]
        #expect(status?["compressedEntries"] == 1)
        #expect((status?["compressedBytes"]?.intValue ?? .max) < Int64(text.utf8.count) / 2)
    }

    @Test func cacheClearRemovesAllOrOneTool() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [tools.one]
            kind = "builtin"
            builtin = "echo"
            cache_ttl_s = 600
            [tools.two]
            kind = "builtin"
            builtin = "echo"
            cache_ttl_s = 600
            """))
        let connection = try daemon.connect()
        for name in ["one", "two"] {
            for index in 0..<3 { _ = try connection.call("tools/call", ["name": .string(name), "arguments": ["i": .int(Int64(index))]]) }
        }
        #expect(try connection.call("cache/clear", ["tool": "one"])["removed"] == 3)
        #expect(try connection.call("daemon/status")["cache"]?["entries"] == 3)
        #expect(try connection.call("tools/call", ["name": "two", "arguments": ["i": 0]])["_meta"]?["toolformer"]?["cached"] == true)
        #expect(try connection.call("cache/clear")["removed"] == 3)
        #expect(try connection.call("daemon/status")["cache"]?["entries"] == 0)
    }

    @Test func theDiskTierServesAfterARestartAndSkipsCorruption() async throws {
        let cacheDir = "/tmp/toolformer-cache-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = try? TestDaemon.run(["/bin/rm", "-rf", cacheDir]) }
        let scripted = try counting(extra: "[cache]\ndir = \"\(cacheDir)\"")
        let config = try TestDaemon.readFile(scripted.daemon.configPath)
        _ = try scripted.daemon.connect().call("tools/call", ["name": "count", "arguments": ["warm": true]])
        _ = try scripted.daemon.connect().call("tools/call", ["name": "count", "arguments": ["other": true]])
        #expect(try scripted.daemon.stop() == 0)
        #expect(runs(scripted) == 2)

        let restarted = try TestDaemon(config: config)
        let hit = try restarted.connect().call("tools/call", ["name": "count", "arguments": ["warm": true]])
        #expect(hit["_meta"]?["toolformer"]?["cached"] == true)
        #expect(hit["structuredContent"] == ["warm": true])
        #expect(runs(scripted) == 2)
        #expect(try restarted.stop() == 0)

        // Flip a byte in the middle of every entry file: none may be served.
        for file in try entryFiles(cacheDir) {
            var bytes = Array(try TestDaemon.readFile(file).utf8)
            bytes[bytes.count / 2] ^= 0x5A
            try TestDaemon.writeFile(file, String(decoding: bytes, as: UTF8.self))
        }
        let third = try TestDaemon(config: config)
        let miss = try third.connect().call("tools/call", ["name": "count", "arguments": ["other": true]])
        #expect(miss["_meta"]?["toolformer"]?["cached"] == false)
        #expect(miss["structuredContent"] == ["other": true])
        #expect(runs(scripted) == 3)
    }

    func entryFiles(_ directory: String) throws -> [String] {
        let listing = directory + "/listing"
        _ = try TestDaemon.run(["/bin/sh", "-c", "find '\(directory)' -type f ! -name listing > '\(listing)'"])
        return try TestDaemon.readFile(listing).split(separator: "\n").map(String.init)
    }

    @Test func httpToolsShareAFewWarmConnectionsWhoeverCalls() async throws {
        let server = try TestHTTPServer.startBlocking { request in .json(#"{"ok":true}"#) }
        defer { try? server.shutdownBlocking() }
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [http]
            max_connections_per_host = 2
            [tools.api]
            kind = "http"
            url = "\(server.baseURL)/thing/{i}"
            """))
        let clients = try (0..<10).map { _ in try daemon.connect() }
        for round in 0..<5 {
            for (index, client) in clients.enumerated() {
                let result = try client.call("tools/call", ["name": "api", "arguments": ["i": .int(Int64(round * 10 + index))]])
                #expect(result["isError"] == false)
            }
        }
        #expect(server.requests.count == 50)
        #expect(server.acceptedConnections <= 2, "\(server.acceptedConnections) TCP connections for 50 calls")
        let pools = try clients[0].call("daemon/status")["pools"]
        #expect(pools?["http"]?["requests"]?.intValue ?? 0 >= 50)
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return String(self[..<range.lowerBound]) + replacement + String(self[range.upperBound...])
    }
}
