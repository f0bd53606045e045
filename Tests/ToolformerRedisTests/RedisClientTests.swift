import Logging
import NIOCore
import NIOPosix
import Testing
import ToolformerCore
import ToolformerTestTraits
import ToolformerTesting
@testable import ToolformerRedis

/// The client against a real redis-server started for each test.
@Suite("Redis client", .timeLimit(.minutes(2)), .ownThread)
struct RedisClientTests {
    static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Generous timeouts, but where a test is about them: a loaded machine must not look like a slow Redis.
    static let relaxed = RedisClient.Settings(poolSize: 2, connectTimeoutMs: 5000, commandTimeoutMs: 5000)

    func client(_ url: String, password: String? = nil, settings: RedisClient.Settings = relaxed) throws -> RedisClient {
        var endpoint = try RedisEndpoint(url: url)
        if let password { endpoint.password = password }
        return RedisClient(endpoint: endpoint, settings: settings, eventLoopGroup: Self.loops)
    }

    @Test func binaryValuesAndPipelinedReplies() async throws {
        let server = try RedisServer()
        let redis = try client(server.url)
        defer { redis.shutdown() }
        let value = RedisArgument(bytes: [0, 13, 10, 255, 36, 42])
        #expect(try await redis.send("SET", "k", value) == .simpleString("OK"))
        #expect(try await redis.send("GET", "k") == .bulkString(value.bytes))
        #expect(try await redis.send("GET", "missing") == .null)
        // Many commands in flight on one connection: each gets its own reply back.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<2000 {
                group.addTask {
                    let reply = try await redis.send(RedisCommand("ECHO", [RedisArgument("m\(index)")]), affinity: 0)
                    #expect(reply.string == "m\(index)")
                }
            }
            try await group.waitForAll()
        }
        #expect(redis.openConnections <= 2)
        do {
            _ = try await redis.send("INCR", "k")
            Issue.record("INCR on a non-number succeeded")
        } catch {
            #expect(error.isServerReply)
            #expect(error.serverMessage?.hasPrefix("ERR") == true)
        }
    }

    @Test func authAndSelect() async throws {
        let server = try RedisServer(password: "correct horse")
        let good = try client("redis://127.0.0.1:\(server.port)/3", password: "correct horse")
        defer { good.shutdown() }
        #expect(try await good.send("SET", "in3", "yes") == .simpleString("OK"))
        #expect(try server.cli(["-n", "3", "GET", "in3"]) == "yes")
        // An ACL user, from the URL: AUTH user password.
        try server.cli(["ACL", "SETUSER", "agent", "on", ">agent pw", "~*", "+@all"])
        let user = try client("redis://agent:agent%20pw@127.0.0.1:\(server.port)/0")
        defer { user.shutdown() }
        #expect(try await user.send("ACL", "WHOAMI") == .bulkString(Array("agent".utf8)))

        for (password, expected) in [("wrong", "WRONGPASS"), (nil, "NOAUTH")] as [(String?, String)] {
            var endpoint = try RedisEndpoint(url: server.url)
            endpoint.password = password
            do {
                try await RedisClient.check(endpoint: endpoint, settings: Self.relaxed, eventLoopGroup: Self.loops)
                Issue.record("logged in with \(password ?? "no password")")
            } catch {
                #expect(error.isConfiguration)
                #expect(error.description.contains(expected), "\(error)")
                #expect(!error.description.contains("wrong"), "\(error)")
            }
        }
        var badDB = try RedisEndpoint(url: "redis://127.0.0.1:\(server.port)/99")
        badDB.password = "correct horse"
        do {
            try await RedisClient.check(endpoint: badDB, settings: Self.relaxed, eventLoopGroup: Self.loops)
            Issue.record("selected database 99")
        } catch {
            #expect(error.isConfiguration && error.isDatabase)
            #expect(error.description.contains("database 99"), "\(error)")
        }
    }

    @Test func unixSocket() async throws {
        let server = try RedisServer()
        let redis = try client("unix://\(server.unixSocket)?db=2")
        defer { redis.shutdown() }
        #expect(try await redis.send("SET", "u", "1") == .simpleString("OK"))
        #expect(try server.cli(["-n", "2", "GET", "u"]) == "1")
    }

    @Test func evalshaFallsBackOnNoscript() async throws {
        let server = try RedisServer()
        let redis = try client(server.url)
        defer { redis.shutdown() }
        let script = RedisScript("return tonumber(ARGV[1]) + 1")
        #expect(try await redis.eval(script, keys: [], arguments: [41]) == .integer(42))
        #expect(script.sha?.count == 40)
        try server.cli(["SCRIPT", "FLUSH"])
        #expect(try await redis.eval(script, keys: [], arguments: [1]) == .integer(2))
        #expect(script.noscriptFallbacks == 1)
        #expect(try await redis.eval(script, keys: [], arguments: [2]) == .integer(3))
        #expect(script.noscriptFallbacks == 1)
    }

    @Test func timeoutsAndReconnects() async throws {
        let server = try RedisServer()
        let redis = try client(server.url, settings: .init(poolSize: 1, connectTimeoutMs: 300, commandTimeoutMs: 100))
        defer { redis.shutdown() }
        #expect(try await redis.send("PING") == .simpleString("PONG"))
        server.pause()
        let started = ContinuousClock.now
        await #expect(throws: RedisError.commandTimeout("PING", ms: 100)) { try await redis.send("PING") }
        #expect(ContinuousClock.now - started < .seconds(5))
        server.resume()
        // The timed-out connection was closed; the next command opens another.
        let pong = try await eventually { () async throws(RedisError) -> RESPValue in try await redis.send("PING") }
        #expect(pong == .simpleString("PONG"))

        server.stop()
        do {
            _ = try await redis.send("PING")
            Issue.record("PING answered with the server stopped")
        } catch {
            #expect(!error.isConfiguration)
        }
        try server.start()
        let again = try await eventually { () async throws(RedisError) -> RESPValue in try await redis.send("PING") }
        #expect(again == .simpleString("PONG"))
    }

    /// Retries for up to 5 s: reconnects wait out a backoff.
    func eventually(_ body: () async throws(RedisError) -> RESPValue) async throws -> RESPValue {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                return try await body()
            } catch {
                if ContinuousClock.now > deadline { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}

/// The shared token bucket's Lua script, against a real server.
@Suite("Shared rate limits", .timeLimit(.minutes(2)), .ownThread)
struct SharedRateLimitTests {
    @Test func oneBudgetAcrossStores() async throws {
        let server = try RedisServer()
        let endpoint = try RedisEndpoint(url: server.url)
        func store() -> (SharedRateLimitStore, RedisClient) {
            let client = RedisClient(
                endpoint: endpoint, settings: .init(poolSize: 1, connectTimeoutMs: 5000, commandTimeoutMs: 5000),
                eventLoopGroup: RedisClientTests.loops)
            let cluster = RedisCluster(client: client, keyPrefix: "t:", maxValueBytes: 1 << 20, reachable: true, logger: Logger(label: "t"))
            // Slow on purpose: the waits asserted below hold however long a loaded machine takes.
            var config = RateLimitConfig(name: "api", rate: .perSecond(0.1))
            config.burst = 5
            config.shared = true
            config.maxWaitMs = 15_000
            var local = RateLimitConfig(name: "own", rate: .perSecond(1))
            local.burst = 1
            return (SharedRateLimitStore(cluster: cluster, clock: SystemClock(), buckets: ["api": config, "own": local]), client)
        }
        let (a, clientA) = store()
        let (b, clientB) = store()
        defer {
            clientA.shutdown()
            clientB.shutdown()
        }
        // Two stores (two daemons), one budget of 5: the sixth token, on either, means a wait.
        var immediate = 0
        for index in 0..<5 {
            if case .granted(let wait)? = await (index % 2 == 0 ? a : b).reserve(bucket: "api", tokens: 1, limit: .seconds(10)),
                wait == .zero
            {
                immediate += 1
            }
        }
        #expect(immediate == 5)
        guard case .granted(let wait)? = await b.reserve(bucket: "api", tokens: 1, limit: .seconds(10)) else {
            Issue.record("the sixth token was refused")
            return
        }
        #expect(wait > .seconds(5) && wait <= .seconds(10), "\(wait)")
        // Beyond max_wait_ms: refused, nothing taken.
        let beyond = await a.reserve(bucket: "api", tokens: 5, limit: .seconds(10))
        guard case .refused(let retryAfter)? = beyond else {
            Issue.record("a wait past max_wait_ms was granted: \(String(describing: beyond)), \(a.status())")
            return
        }
        #expect(retryAfter > .seconds(15))
        // A refund gives the token back to everyone.
        await a.refund(bucket: "api", tokens: 1)
        guard case .granted(let after)? = await b.reserve(bucket: "api", tokens: 1, limit: .seconds(10)) else {
            Issue.record("refused after a refund")
            return
        }
        #expect(after <= wait)
        // A bucket that is not shared stays in each process.
        #expect(await a.reserve(bucket: "own", tokens: 1, limit: .zero) == .granted(wait: .zero))
        #expect(await b.reserve(bucket: "own", tokens: 1, limit: .zero) == .granted(wait: .zero))
        #expect(try server.cli(["EXISTS", "t:ratelimit:own"]) == "0")
        #expect(try server.cli(["EXISTS", "t:ratelimit:api"]) == "1")
        #expect(a.status()["api"]?["shared"] == true)
    }
}
