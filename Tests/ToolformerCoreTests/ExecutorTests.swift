import Synchronization
import Testing
import ToolformerCore
import ToolformerProtocol

/// A tool that plays a script of outcomes, one per call, and counts its calls.
final class ScriptedTool: Tool {
    enum Step: Sendable {
        case succeed(String)
        case fail(String)
        case transient(String, retryAfter: Duration?)
        case hang
    }

    let definition: ToolDefinition
    private let steps: Mutex<[Step]>
    private let calls = Mutex(0)

    init(name: String = "scripted", _ steps: [Step]) {
        definition = ToolDefinition(name: name, description: "test", inputSchema: ["type": "object"])
        self.steps = Mutex(steps)
    }

    var callCount: Int { calls.withLock { $0 } }

    func call(_ arguments: JSONObject) async throws -> ToolOutput {
        calls.withLock { $0 += 1 }
        let step = steps.withLock { $0.isEmpty ? Step.succeed("done") : $0.removeFirst() }
        switch step {
        case .succeed(let text): return ToolOutput(text: text)
        case .fail(let text): return .failure(text)
        case .transient(let text, let retryAfter): throw ToolFailure.transient(text, retryAfter: retryAfter)
        case .hang:
            try await Task.sleep(for: .seconds(3600))
            return ToolOutput(text: "never")
        }
    }
}

/// Collects a call's events as parsed objects.
final class EventLog: Sendable {
    private final class Lines: Sendable {
        let lines = Mutex<[[UInt8]]>([])
    }

    private let storage = Lines()
    let sink: EventSink

    init() {
        let storage = self.storage
        sink = EventSink(requestID: 1) { bytes in storage.lines.withLock { $0.append(bytes) } }
    }

    var events: [JSONValue] {
        storage.lines.withLock { $0 }.compactMap { try? JSONParser().parse(Array($0.dropLast()))["params"] }
    }

    var types: [String] { events.compactMap { $0["type"]?.stringValue } }
}

@Suite(.timeLimit(.minutes(1)))
struct ExecutorTests {
    let clock = ManualClock()

    func executor(buckets: [String: RateLimitConfig] = [:], maxConcurrency: Int = 8) -> ToolExecutor {
        ToolExecutor(
            clock: clock, rateLimits: LocalRateLimitStore(clock: clock, buckets: buckets), maxConcurrency: maxConcurrency,
            random: { 0.5 })
    }

    func call(_ tool: ScriptedTool, policy: ToolPolicy, deadline: Duration = .seconds(3600), events: EventLog = EventLog())
        -> ToolCall
    {
        ToolCall(
            entry: ToolRegistry.Entry(tool: tool, policy: policy), arguments: [:], callID: "0", owner: 1,
            deadline: deadline, events: events.sink)
    }

    let retrying = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(100), maxBackoff: .seconds(10))

    @Test func transientFailuresAreRetriedWithBackoffThenSucceed() async throws {
        let tool = ScriptedTool([.transient("503", retryAfter: nil), .transient("503", retryAfter: nil), .succeed("ok")])
        let events = EventLog()
        let executor = executor()
        let run = Task { await executor.run(call(tool, policy: ToolPolicy(timeout: .seconds(60), retry: retrying), events: events)) }
        // Full jitter with a draw of 0.5: 50 ms after the first failure, 100 ms after the second.
        try await clock.waitForSleeper(until: .milliseconds(50))
        clock.advance(by: .milliseconds(50))
        try await clock.waitForSleeper(until: .milliseconds(150))
        clock.advance(by: .milliseconds(100))
        guard case .result(let result) = await run.value else { Issue.record("no result"); return }
        #expect(result["isError"] == false)
        #expect(result["content"]?.arrayValue?.first?["text"] == "ok")
        #expect(result["_meta"]?["toolformer"]?["attempts"] == 3)
        #expect(tool.callCount == 3)
        #expect(events.types == ["tool.started", "tool.retry", "tool.started", "tool.retry", "tool.started", "tool.finished"])
        #expect(events.events.filter { $0["type"] == "tool.retry" }.map { $0["delayMs"] } == [50, 100])
        #expect(events.events.map { $0["seq"] } == [1, 2, 3, 4, 5, 6])
    }

    @Test func retryAfterIsHonoured() async throws {
        let tool = ScriptedTool([.transient("429", retryAfter: .seconds(2)), .succeed("ok")])
        let executor = executor()
        let run = Task { await executor.run(call(tool, policy: ToolPolicy(timeout: .seconds(60), retry: retrying))) }
        try await clock.waitForSleeper(until: .seconds(2))
        clock.advance(by: .seconds(2))
        guard case .result(let result) = await run.value else { Issue.record("no result"); return }
        #expect(result["_meta"]?["toolformer"]?["attempts"] == 2)
    }

    @Test func permanentFailuresAreNotRetriedAndExhaustedRetriesSaySo() async throws {
        let permanent = ScriptedTool([.fail("HTTP 404")])
        guard case .result(let first) = await executor().run(call(permanent, policy: ToolPolicy(timeout: .seconds(60), retry: retrying))) else {
            Issue.record("no result"); return
        }
        #expect(first["isError"] == true)
        #expect(permanent.callCount == 1)

        let flaky = ScriptedTool([.transient("503", retryAfter: nil), .transient("503", retryAfter: nil), .transient("503", retryAfter: nil)])
        let executor = executor()
        let run = Task { await executor.run(call(flaky, policy: ToolPolicy(timeout: .seconds(60), retry: retrying))) }
        try await clock.waitForSleeper(until: .milliseconds(50))
        clock.advance(by: .milliseconds(50))
        try await clock.waitForSleeper(until: .milliseconds(150))
        clock.advance(by: .milliseconds(100))
        guard case .result(let last) = await run.value else { Issue.record("no result"); return }
        #expect(last["isError"] == true)
        #expect(last["content"]?.arrayValue?.first?["text"] == "503 (after 3 attempts)")
        #expect(flaky.callCount == 3)
    }

    @Test func aToolTimeoutIsAToolErrorAndIsRetriedOnlyWhenIdempotent() async throws {
        let once = ScriptedTool([.hang, .succeed("second")])
        let executor = executor()
        let strict = Task { await executor.run(call(once, policy: ToolPolicy(timeout: .milliseconds(500), retry: retrying))) }
        try await clock.waitForSleeper(until: .milliseconds(500))
        clock.advance(by: .milliseconds(500))
        guard case .result(let result) = await strict.value else { Issue.record("no result"); return }
        #expect(result["isError"] == true)
        #expect(result["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("timed out after 500 ms") == true)
        #expect(once.callCount == 1)

        let twice = ScriptedTool([.hang, .succeed("second")])
        let start = clock.now
        let idempotent = Task {
            await executor.run(call(twice, policy: ToolPolicy(timeout: .milliseconds(500), retry: retrying, idempotent: true)))
        }
        try await clock.waitForSleeper(until: start + .milliseconds(500))
        clock.advance(by: .milliseconds(500))
        try await clock.waitForSleeper(until: start + .milliseconds(550))
        clock.advance(by: .milliseconds(50))
        guard case .result(let retried) = await idempotent.value else { Issue.record("no result"); return }
        #expect(retried["isError"] == false)
        #expect(twice.callCount == 2)
    }

    /// A call that owns its task and cannot be retried after a timeout lets the deadline cancel
    /// that task (no child task); one that can be retried runs each attempt in a child, so the
    /// retry runs in a task nobody cancelled.
    @Test func aCallThatOwnsItsTaskTimesOutAndRetriesAlike() async throws {
        let executor = executor()
        let once = ScriptedTool([.hang, .succeed("second")])
        let strict = Task { () -> (CallOutcome, Bool) in
            let outcome = await executor.run(call(once, policy: ToolPolicy(timeout: .milliseconds(500), retry: retrying)), ownsTask: true)
            return (outcome, Task.isCancelled)
        }
        try await clock.waitForSleeper(until: .milliseconds(500))
        clock.advance(by: .milliseconds(500))
        let (outcome, cancelled) = await strict.value
        guard case .result(let result) = outcome else { Issue.record("no result"); return }
        #expect(result["isError"] == true)
        #expect(result["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("timed out after 500 ms") == true)
        #expect(once.callCount == 1)
        // The deadline cancelled the caller's own task: that is the point, and why it must own it.
        #expect(cancelled)

        let twice = ScriptedTool([.hang, .succeed("second")])
        let start = clock.now
        let idempotent = Task { () -> (CallOutcome, Bool) in
            let outcome = await executor.run(
                call(twice, policy: ToolPolicy(timeout: .milliseconds(500), retry: retrying, idempotent: true)), ownsTask: true)
            return (outcome, Task.isCancelled)
        }
        try await clock.waitForSleeper(until: start + .milliseconds(500))
        clock.advance(by: .milliseconds(500))
        try await clock.waitForSleeper(until: start + .milliseconds(550))
        clock.advance(by: .milliseconds(50))
        let (retried, retriedCancelled) = await idempotent.value
        guard case .result(let second) = retried else { Issue.record("no result"); return }
        #expect(second["isError"] == false)
        #expect(twice.callCount == 2)
        #expect(!retriedCancelled)

        let hanging = ScriptedTool([.hang])
        let requestEnds = Task {
            await executor.run(call(hanging, policy: ToolPolicy(timeout: .seconds(60)), deadline: clock.now + .milliseconds(300)), ownsTask: true)
        }
        try await clock.waitForSleeper(until: clock.now + .milliseconds(300))
        clock.advance(by: .milliseconds(300))
        guard case .failure(let error) = await requestEnds.value else { Issue.record("no failure"); return }
        #expect(error.name == "timeout")
        #expect(executor.status()["inflightByTool"] == [:])
    }

    @Test func theRequestDeadlineEndsTheCall() async throws {
        let tool = ScriptedTool([.hang])
        let executor = executor()
        let run = Task { await executor.run(call(tool, policy: ToolPolicy(timeout: .seconds(60)), deadline: .milliseconds(300))) }
        try await clock.waitForSleeper(until: .milliseconds(300))
        clock.advance(by: .milliseconds(300))
        guard case .failure(let error) = await run.value else { Issue.record("no failure"); return }
        #expect(error.name == "timeout")
    }

    @Test func rateLimitedCallsWaitTheirTurnAndAnOverlongWaitFailsAtOnce() async throws {
        let bucket = try ToolformerConfig.parse(
            toml: "[rate_limits.api]\nrequests_per_second = 10\nburst = 1\nmax_wait_ms = 150\n", file: "t.toml"
        ).rateLimits
        let executor = executor(buckets: bucket)
        let policy = ToolPolicy(timeout: .seconds(60), rateLimit: "api")
        let tool = ScriptedTool([])

        guard case .result = await executor.run(call(tool, policy: policy)) else { Issue.record("first"); return }
        let events = EventLog()
        let second = Task { await executor.run(call(tool, policy: policy, events: events)) }
        try await clock.waitForSleeper(until: .milliseconds(100))
        // While the second waits, a third would wait 200 ms: past max_wait_ms, refused at once.
        guard case .failure(let refused) = await executor.run(call(tool, policy: policy)) else { Issue.record("third"); return }
        #expect(refused.name == "rate_limited")
        #expect(refused.details["retryAfterMs"] == 200)
        #expect(refused.details["bucket"] == "api")
        clock.advance(by: .milliseconds(100))
        guard case .result = await second.value else { Issue.record("second"); return }
        #expect(events.types.contains("ratelimit.wait"))
        #expect(events.events.first { $0["type"] == "ratelimit.wait" }?["waitMs"] == 100)
        #expect(tool.callCount == 2)
    }

    @Test func aWaitThatWouldPassTheDeadlineFailsAtOnce() async throws {
        let bucket = try ToolformerConfig.parse(
            toml: "[rate_limits.api]\nrequests_per_minute = 60\nburst = 1\n", file: "t.toml"
        ).rateLimits
        let executor = executor(buckets: bucket)
        let policy = ToolPolicy(timeout: .seconds(60), rateLimit: "api")
        let tool = ScriptedTool([])
        _ = await executor.run(call(tool, policy: policy))
        guard case .failure(let error) = await executor.run(call(tool, policy: policy, deadline: .milliseconds(500))) else {
            Issue.record("not refused"); return
        }
        #expect(error.name == "rate_limited")
        #expect(error.details["retryAfterMs"] == 1000)
    }

    @Test func theGlobalCapQueuesCallsFairly() async throws {
        let executor = executor(maxConcurrency: 1)
        let blocker = ScriptedTool(name: "blocker", [.hang])
        let holding = Task { await executor.run(call(blocker, policy: ToolPolicy(timeout: .seconds(60)))) }
        while executor.status()["queues"]?["global"]?["running"] != 1 { try await Task.sleep(for: .milliseconds(1)) }
        let queued = ScriptedTool(name: "queued", [])
        let waiting = Task { await executor.run(call(queued, policy: ToolPolicy(timeout: .seconds(60)))) }
        while executor.status()["queues"]?["global"]?["queued"] != 1 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(queued.callCount == 0)
        holding.cancel()
        guard case .failure(let cancelled) = await holding.value else { Issue.record("not cancelled"); return }
        #expect(cancelled.name == "cancelled")
        guard case .result = await waiting.value else { Issue.record("queued call did not run"); return }
        #expect(queued.callCount == 1)
    }
}
