import Synchronization
import Testing
@testable import ToolformerCore
import ToolformerProtocol
import ToolformerTesting

@Suite struct CanonicalJSONTests {
    @Test func keyOrderAndNumberFormDoNotMatter() throws {
        let parser = JSONParser()
        let a = try parser.parse(#"{"b":2,"a":{"y":[1,2.0],"x":null}}"#)
        let b = try parser.parse(#"{"a":{"x":null,"y":[1.0,2]},"b":2.0}"#)
        #expect(CanonicalJSON.string(a) == CanonicalJSON.string(b))
        #expect(CanonicalJSON.string(a) == #"{"a":{"x":null,"y":[1,2]},"b":2}"#)
        #expect(CanonicalJSON.string(["n": 0.5]) == #"{"n":0.5}"#)
        #expect(CanonicalJSON.string(["n": .int(Int64.max)]) == #"{"n":9223372036854775807}"#)
        #expect(CanonicalJSON.string(["a": 1]) != CanonicalJSON.string(["a": "1"]))
    }

    @Test func keysFromDifferentToolsOrDefinitionsDiffer() {
        let arguments: JSONObject = ["q": "x"]
        let key = CacheKey.tool("t", fingerprint: "f1", arguments: arguments)
        #expect(key == CacheKey.tool("t", fingerprint: "f1", arguments: ["q": "x"]))
        #expect(key != CacheKey.tool("t", fingerprint: "f2", arguments: arguments))
        #expect(key != CacheKey.tool("u", fingerprint: "f1", arguments: arguments))
        #expect(key.namespace == "tool:t")
    }

    @Test func aKeyHoldsADigestOfTheArgumentsNotTheArguments() {
        let big = CacheKey.tool("t", fingerprint: "f1", arguments: ["q": .string(String(repeating: "x", count: 100_000))])
        // namespace, fingerprint and 64 hex digits, whatever the size of the arguments
        #expect(big.text.utf8.count == "tool:t".utf8.count + 1 + 2 + 1 + 64)
        #expect(big.text.hasSuffix(SHA256.hex(CanonicalJSON.bytes(["q": .string(String(repeating: "x", count: 100_000))]))))
        // The same request in another key order is the same key; one character more is not.
        #expect(CacheKey.tool("t", fingerprint: "f1", arguments: ["a": 1, "b": 2])
            == CacheKey.tool("t", fingerprint: "f1", arguments: ["b": 2, "a": 1]))
        #expect(big != CacheKey.tool("t", fingerprint: "f1", arguments: ["q": .string(String(repeating: "x", count: 100_001))]))
    }

    @Test func toolFingerprintsAreStableAndFollowTheDefinition() throws {
        let parse = { (toml: String) throws -> ToolConfig in
            try #require(try ToolformerConfig.parse(toml: toml, file: "t.toml").tools["t"])
        }
        let one = try parse("[tools.t]\nkind = \"exec\"\nargv = [\"/bin/echo\"]\nenv = { A = \"1\", B = \"2\", C = \"3\" }\n")
        let same = try parse("[tools.t]\nkind = \"exec\"\nargv = [\"/bin/echo\"]\nenv = { C = \"3\", B = \"2\", A = \"1\" }\ntimeout_ms = 5\n")
        let other = try parse("[tools.t]\nkind = \"exec\"\nargv = [\"/bin/echo\", \"x\"]\nenv = { A = \"1\", B = \"2\", C = \"3\" }\n")
        #expect(one.fingerprint == same.fingerprint)
        #expect(one.fingerprint != other.fingerprint)
        #expect(one.fingerprint.count == 16)
    }
}

@Suite struct ResultCacheTests {
    final class Now: Sendable {
        let ms = Mutex<Int64>(1_000_000)
        func advance(_ by: Int64) { ms.withLock { $0 += by } }
    }

    func cache(maxEntries: Int = 100, maxBytes: Int = 1 << 20, compressMinBytes: Int = 1 << 20, now: Now = Now()) -> ResultCache {
        ResultCache(
            settings: .init(maxEntries: maxEntries, maxBytes: maxBytes, compressMinBytes: compressMinBytes),
            nowUnixMs: { now.ms.withLock { $0 } })
    }

    func key(_ name: String) -> CacheKey { CacheKey.tool("t", fingerprint: "f", arguments: ["k": .string(name)]) }

    @Test func storesLooksUpAndExpires() async {
        let now = Now()
        let cache = cache(now: now)
        await cache.store(key("a"), ["v": 1], ttl: .seconds(10))
        #expect(await cache.lookup(key("a")) == ["v": 1])
        #expect(await cache.lookup(key("b")) == nil)
        now.advance(10_000)
        #expect(await cache.lookup(key("a")) == nil)
        let status = cache.status()
        #expect(status["hits"] == 1)
        #expect(status["misses"] == 2)
        #expect(status["expired"] == 1)
        #expect(status["entries"] == 0)
        #expect(status["bytes"] == 0)
    }

    @Test func entryCountIsBoundedLeastRecentlyUsedFirst() async {
        let cache = cache(maxEntries: 3)
        for name in ["a", "b", "c"] { await cache.store(key(name), .string(name), ttl: .seconds(60)) }
        _ = await cache.lookup(key("a"))
        await cache.store(key("d"), "d", ttl: .seconds(60))
        #expect(await cache.lookup(key("b")) == nil)
        #expect(await cache.lookup(key("a")) == "a")
        #expect(cache.status()["evictions"] == 1)
    }

    @Test func compressesLargeValuesTransparentlyAndCountsTheirBytes() async {
        let cache = cache(compressMinBytes: 256)
        let large: JSONValue = .string(String(repeating: "abcdefgh", count: 1000))
        await cache.store(key("big"), large, ttl: .seconds(60))
        await cache.store(key("small"), "tiny", ttl: .seconds(60))
        #expect(await cache.lookup(key("big")) == large)
        let status = cache.status()
        #expect(status["compressedEntries"] == 1)
        #expect((status["compressedBytes"]?.intValue ?? .max) < 1000)
        _ = await cache.clear(namespace: nil)
        #expect(cache.status()["bytes"] == 0)
        #expect(cache.status()["compressedBytes"] == 0)
    }

    @Test func clearsOneNamespace() async {
        let cache = cache()
        await cache.store(CacheKey.tool("one", fingerprint: "f", arguments: [:]), 1, ttl: .seconds(60))
        await cache.store(CacheKey.tool("two", fingerprint: "f", arguments: [:]), 2, ttl: .seconds(60))
        #expect(await cache.clear(namespace: "tool:one").memory == 1)
        #expect(await cache.lookup(CacheKey.tool("two", fingerprint: "f", arguments: [:])) == 2)
    }
}

@Suite(.timeLimit(.minutes(1))) struct SingleFlightTests {
    @Test func identicalCallsShareOneRunAndTheLastToLeaveCancelsIt() async throws {
        let flights = SingleFlight()
        let key = CacheKey.tool("t", fingerprint: "f", arguments: [:])
        let runs = Mutex(0)
        let release = AsyncStream<Void>.makeStream()
        let work: @Sendable (EventSink) async -> CallOutcome = { _ in
            runs.withLock { $0 += 1 }
            for await _ in release.stream {}
            return Task.isCancelled ? .failure(.cancelled()) : .result("done")
        }
        let first = Task { await flights.run(key, events: .disabled(1), callID: "0", work: work) }
        while flights.count == 0 { try await Task.sleep(for: .milliseconds(1)) }
        let second = Task { await flights.run(key, events: .disabled(2), callID: "0", work: work) }
        try await Task.sleep(for: .milliseconds(20))
        // The first caller leaves: the run goes on for the second.
        first.cancel()
        guard case .failure(let error) = await first.value.outcome else { Issue.record("first not cancelled"); return }
        #expect(error.name == "cancelled")
        release.continuation.finish()
        let (outcome, joined) = await second.value
        #expect(joined)
        guard case .result(let value) = outcome else { Issue.record("second not served"); return }
        #expect(value == "done")
        #expect(runs.withLock { $0 } == 1)
        #expect(flights.count == 0)

        // Alone, a caller who leaves cancels the run.
        let hold = AsyncStream<Void>.makeStream()
        let cancelledRun = Mutex(false)
        let lonely = Task {
            await flights.run(key, events: .disabled(3), callID: "0") { _ in
                for await _ in hold.stream {}
                cancelledRun.withLock { $0 = Task.isCancelled }
                return .result("late")
            }
        }
        while flights.count == 0 { try await Task.sleep(for: .milliseconds(1)) }
        lonely.cancel()
        _ = await lonely.value
        hold.continuation.finish()
        try await Task.sleep(for: .milliseconds(50))
        #expect(cancelledRun.withLock { $0 })
    }

    @Test func aNewcomerNeverJoinsARunItsMembersAbandoned() async throws {
        let flights = SingleFlight()
        let key = CacheKey.tool("t", fingerprint: "f", arguments: [:])
        // The abandoned run winds down slowly (it ignores cancellation until released).
        let windDown = Gate()
        let abandoned = Task {
            await flights.run(key, events: .disabled(1), callID: "0") { _ in
                await windDown.wait()
                return .failure(.cancelled())
            }
        }
        while flights.count == 0 { try await Task.sleep(for: .milliseconds(1)) }
        abandoned.cancel()
        _ = await abandoned.value
        #expect(flights.count == 1)  // still winding down

        // The newcomer starts a run of its own and is served by it.
        let (outcome, joined) = await flights.run(key, events: .disabled(2), callID: "0") { _ in .result("fresh") }
        #expect(!joined)
        guard case .result(let value) = outcome else { Issue.record("the newcomer got \(outcome)"); return }
        #expect(value == "fresh")
        windDown.open()
        while flights.count > 0 { try await Task.sleep(for: .milliseconds(1)) }
    }
}

/// A wait that cancellation does not end: opened only by `open()`.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        for waiter in state.withLock({ state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }) { waiter.resume() }
    }
}

/// A memory hit of `tools/call` is answered with bytes spliced from the stored ones; they must be
/// exactly what parsing the stored value and writing the cached result would give.
@Suite struct CachedResultBytesTests {
    private func expectSplicedEqualsWritten(_ result: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let stored = JSONWriter.bytes(Orchestrator.cacheable(result))
        let spliced = try #require(Orchestrator.cachedResultBytes(stored), sourceLocation: sourceLocation)
        let written = JSONWriter.bytes(Orchestrator.cachedResult(try JSONParser(maxDepth: 80).parse(stored), durationMs: 0))
        #expect(
            String(decoding: spliced.bytes, as: UTF8.self) == String(decoding: written, as: UTF8.self),
            sourceLocation: sourceLocation)
        // And it is one valid JSON value.
        #expect((try? JSONParser(maxDepth: 80).parse(spliced.bytes)) != nil, sourceLocation: sourceLocation)
    }

    private func result(text: String, structured: JSONValue?) -> JSONValue {
        ToolExecutor.callToolResult(ToolOutput(text: text, structuredContent: structured), durationMs: 12, attempts: 2)
    }

    @Test func theShortFormAndTheLongFormAndEmpty() throws {
        // Structured content whose text is its JSON: stored as {"s": ...}.
        for structured: JSONValue in [
            ["q": "same"], ["quote\"back\\slash": "tab\tnewline\ncontrol\u{01}é😀"], [1, 2.5, -3, 1e300, nil, true],
            ["nested": ["deep": [["x": []]]]], "just a string", 42, [:],
        ] {
            try expectSplicedEqualsWritten(result(text: structured.description, structured: structured))
        }
        // Text of its own beside structured content, and text alone: stored as they are.
        try expectSplicedEqualsWritten(result(text: "a summary \"quoted\"\n", structured: ["n": 1]))
        try expectSplicedEqualsWritten(result(text: "plain text only", structured: nil))
        // A result with neither (stored as {}).
        try expectSplicedEqualsWritten(["isError": false])
    }

    @Test func randomValues() throws {
        var random = SplitMix64(seed: 20261126)
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &random) {
            case 0: return nil
            case 1: return .bool(Bool.random(using: &random))
            case 2: return .int(Int64.random(in: .min ... .max, using: &random))
            case 3: return .double(Double.random(in: -1e6...1e6, using: &random))
            case 4:
                let alphabet = Array("aZ09 \"\\/\n\t\r\u{08}\u{0C}\u{01}\u{1F}é€😀")
                return .string(String((0..<Int.random(in: 0..<12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }))
            case 5: return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in value(depth + 1) })
            default:
                var object = JSONObject()
                for index in 0..<Int.random(in: 0..<4, using: &random) { object["k\(index)\u{01}\""] = value(depth + 1) }
                return .object(object)
            }
        }
        for _ in 0..<500 {
            let structured = value(0)
            try expectSplicedEqualsWritten(result(text: structured.description, structured: structured))
        }
    }
}
