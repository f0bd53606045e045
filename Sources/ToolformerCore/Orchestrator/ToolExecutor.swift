public import ToolformerProtocol
import Synchronization

/// One tool call as the executor runs it.
public struct ToolCall: Sendable {
    public var entry: ToolRegistry.Entry {
        didSet { name = entry.tool.definition.name }
    }
    /// The tool's name, kept: reading it through the tool's definition copied the whole definition
    /// (schema included) several times per call.
    public private(set) var name: String
    public var arguments: JSONObject
    /// Names the call in events: `"0"` for `tools/call`, the index for `tools/batch`.
    public var callID: String
    /// Whose turn it is in the fair queues: the connection.
    public var owner: UInt64
    /// The request's deadline on the executor's clock.
    public var deadline: Duration
    public var events: EventSink
    public var cacheMode: CacheMode

    /// `tools/call`'s `cache` parameter.
    public enum CacheMode: String, Sendable {
        /// Serve a cached result if there is one; cache a new one.
        case use
        /// Neither read nor write the cache.
        case bypass
        /// Run the tool and replace the cached result.
        case refresh
    }

    public init(
        entry: ToolRegistry.Entry, arguments: JSONObject, callID: String, owner: UInt64, deadline: Duration,
        events: EventSink, cacheMode: CacheMode = .use
    ) {
        self.entry = entry
        name = entry.tool.definition.name
        self.arguments = arguments
        self.callID = callID
        self.owner = owner
        self.deadline = deadline
        self.events = events
        self.cacheMode = cacheMode
    }

}

/// How a call ended: a result (which may be a tool error) or a request-level failure.
public enum CallOutcome: Sendable {
    /// MCP's CallToolResult.
    case result(JSONValue)
    /// The request's deadline, a rate limit that would wait too long, or cancellation.
    case failure(ToolformerError)
}

/// Runs tool calls under the daemon's shared limits: rate-limit budgets, per-tool and global
/// concurrency with fair queueing, per-attempt and per-request deadlines, retries with backoff.
public final class ToolExecutor: Sendable {
    public let clock: any ToolformerClock
    public let rateLimits: any RateLimitStore
    private let global: FairSemaphore
    private let perTool = Mutex<[String: FairSemaphore]>([:])
    private let inflight = Mutex<[String: Int]>([:])
    private let hedges = Mutex<(started: Int, won: Int)>((0, 0))
    /// `max_queued` and `max_result_bytes`, which a reload may change.
    private let bounds = Mutex<(maxQueued: Int, maxResultBytes: Int)>((.max, .max))
    private let refusals = Atomic<Int>(0)
    private let random: @Sendable () -> Double
    public let metrics: any ToolformerMetrics

    public init(
        clock: any ToolformerClock, rateLimits: any RateLimitStore, maxConcurrency: Int,
        metrics: any ToolformerMetrics = NoMetrics(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.clock = clock
        self.rateLimits = rateLimits
        global = FairSemaphore(limit: maxConcurrency)
        self.metrics = metrics
        self.random = random
    }

    /// A reload: the global cap and each tool's cap, the queues' bound (`max_queued`, for the
    /// global queue and each tool's) and the result size bound. Tools that keep their name keep
    /// their queue.
    public func configure(
        maxConcurrency: Int, maxQueued: Int = .max, maxResultBytes: Int = .max, tools: [ToolRegistry.Entry]
    ) {
        bounds.withLock { $0 = (maxQueued, maxResultBytes) }
        global.setLimit(maxConcurrency, maxWaiting: maxQueued)
        perTool.withLock { semaphores in
            var next: [String: FairSemaphore] = [:]
            for entry in tools {
                guard let limit = entry.policy.maxConcurrency else { continue }
                let name = entry.policy.concurrencyGroup ?? entry.tool.definition.name
                let semaphore = semaphores[name] ?? FairSemaphore(limit: limit, maxWaiting: maxQueued)
                semaphore.setLimit(limit, maxWaiting: maxQueued)
                next[name] = semaphore
            }
            semaphores = next
        }
    }

    /// Runs a call to its end. Never throws: cancellation is a `.failure(.cancelled)`.
    ///
    /// `ownsTask`: the calling task runs this call and then only answers it (a batch's child, a
    /// request's task), so an attempt after which nothing can follow (no retry on a timeout) may
    /// let its deadline cancel this task instead of running the tool in a child task to cancel.
    public func run(_ call: ToolCall, ownsTask: Bool = false) async -> CallOutcome {
        let started = clock.now
        let outcome = await attempts(call, ownsTask: ownsTask)
        let label: String
        switch outcome {
        case .result(let result): label = result["isError"] == true ? "error" : "ok"
        case .failure(let error): label = error.name
        }
        metrics.toolCallFinished(tool: call.name, outcome: label, duration: clock.now - started)
        return outcome
    }

    private func attempts(_ call: ToolCall, ownsTask: Bool) async -> CallOutcome {
        let started = clock.now
        let policy = call.entry.policy
        var attempt = 0
        while true {
            attempt += 1
            if Task.isCancelled { return .failure(.cancelled()) }
            if call.events.isEnabled {
                call.events.emit("tool.started", ["callId": .string(call.callID), "name": .string(call.name), "attempt": .int(Int64(attempt))])
            }
            let attemptDeadline = min(clock.now + policy.timeout, call.deadline)
            // A timeout ends the call when it is the request's deadline, or when the tool may not
            // (or need not) be tried again: see toolTimedOut below.
            let timeoutIsFinal = attemptDeadline >= call.deadline || !policy.idempotent || attempt >= policy.retry.maxAttempts
            let outcome = policy.hedgeAfter > .zero
                ? await runHedged(call, until: attemptDeadline, after: policy.hedgeAfter)
                : await runAttempt(call, until: attemptDeadline, inOwnTask: ownsTask && timeoutIsFinal)

            let retryReason: String
            var retryAfter: Duration?
            switch outcome {
            case .output(let output):
                return finish(call, output, attempts: attempt, started: started)
            case .cancelled:
                return .failure(.cancelled())
            case .requestTimedOut:
                return .failure(.timeout("the request's deadline passed after \((clock.now - started).milliseconds) ms"))
            case .rateLimited(let bucket, let wait):
                return .failure(.rateLimited(bucket: bucket, retryAfterMs: wait.millisecondsRoundedUp))
            case .queueFull(let waiting):
                refusals.add(1, ordering: .relaxed)
                return .failure(.overloaded(
                    "\(waiting) tool calls are already waiting for a slot (orchestrator.max_queued)",
                    retryAfterMs: Self.overloadRetryAfterMs))
            case .toolTimedOut:
                let message = "tool \(call.name) timed out after \(policy.timeout.milliseconds) ms"
                // A call that may have had effects is run twice only when the tool says it is safe.
                guard policy.idempotent else { return finish(call, .failure(message), attempts: attempt, started: started) }
                retryReason = message
            case .retryable(let message, let after):
                retryReason = message
                retryAfter = after
            }

            guard attempt < policy.retry.maxAttempts else {
                let suffix = attempt > 1 ? " (after \(attempt) attempts)" : ""
                return finish(call, .failure(retryReason + suffix), attempts: attempt, started: started)
            }
            let delay = policy.retry.delay(afterAttempt: attempt, retryAfter: retryAfter, unit: random)
            guard clock.now + delay < call.deadline else {
                return finish(call, .failure(retryReason + " (no time left to retry)"), attempts: attempt, started: started)
            }
            metrics.toolRetried(tool: call.name)
            call.events.emit("tool.retry", [
                "callId": .string(call.callID), "attempt": .int(Int64(attempt + 1)),
                "delayMs": .int(delay.milliseconds), "reason": .string(retryReason),
            ])
            do { try await clock.sleep(for: delay) } catch { return .failure(.cancelled()) }
        }
    }

    enum AttemptOutcome: Sendable {
        case output(ToolOutput)
        case retryable(String, retryAfter: Duration?)
        case toolTimedOut
        case requestTimedOut
        case rateLimited(String, wait: Duration)
        case queueFull(waiting: Int)
        case cancelled
    }

    /// What an `overloaded` refusal tells the client to wait: long enough for a queue of short
    /// calls to move, short enough not to idle a client whose burst was the only load.
    static let overloadRetryAfterMs: Int64 = 200

    /// An attempt with a hedge: if it has not answered after `after`, an identical second one starts
    /// (under the same caps and budgets); the first success wins and the other is cancelled. When
    /// both fail, the first failure stands.
    private func runHedged(_ call: ToolCall, until deadline: Duration, after: Duration) async -> AttemptOutcome {
        await withTaskGroup(of: (hedge: Bool, outcome: AttemptOutcome)?.self) { group in
            group.addTask { [self] in (false, await runAttempt(call, until: deadline)) }
            group.addTask { [self, clock] in
                do { try await clock.sleep(for: after) } catch { return nil }
                hedges.withLock { $0.started += 1 }
                call.events.emit("tool.hedge", ["callId": .string(call.callID), "name": .string(call.name), "afterMs": .int(after.milliseconds)])
                return (true, await runAttempt(call, until: deadline))
            }
            var firstFailure: AttemptOutcome?
            while let next = await group.next() {
                guard let (hedge, outcome) = next else { continue }
                if case .output(let output) = outcome, !output.isError {
                    if hedge { hedges.withLock { $0.won += 1 } }
                    group.cancelAll()
                    return outcome
                }
                if case .cancelled = outcome, !Task.isCancelled { continue }
                firstFailure = firstFailure ?? outcome
                // The primary failed before any hedge started: no point in starting one.
                if !hedge { group.cancelAll() }
            }
            return firstFailure ?? .cancelled
        }
    }

    /// One attempt: its rate-limit token, its slots, its run; all of it inside `deadline`.
    /// `inOwnTask`: the calling task does nothing after a timeout but answer it, so the deadline
    /// may cancel it (see ``TaskDeadline``).
    private func runAttempt(_ call: ToolCall, until deadline: Duration, inOwnTask: Bool = false) async -> AttemptOutcome {
        if let bucket = call.entry.policy.rateLimit, let refused = await takeToken(bucket, for: call, until: deadline) {
            return refused
        }

        let toolSlot = perTool.withLock { $0[call.entry.policy.concurrencyGroup ?? call.name] }
        let timedOut: AttemptOutcome = deadline >= call.deadline ? .requestTimedOut : .toolTimedOut
        // What the tool's run needs, not the whole call: copying a ToolCall retains every part of it.
        let (tool, arguments, owner, name) = (call.entry.tool, call.arguments, call.owner, call.name)
        let body: @Sendable () async -> AttemptOutcome? = { [self] in
            do {
                try await toolSlot?.acquire(owner: owner)
                defer { toolSlot?.release() }
                try await global.acquire(owner: owner)
                defer { global.release() }
                inflight.withLock { $0[name, default: 0] += 1 }
                defer { inflight.withLock { $0[name, default: 1] -= 1 } }
                return .output(try await tool.call(arguments))
            } catch is CancellationError {
                return nil
            } catch let full as FairSemaphore.QueueFull {
                return .queueFull(waiting: full.waiting)
            } catch let failure as ToolFailure {
                return failure.retryable ? .retryable(failure.message, retryAfter: failure.retryAfter) : .output(.failure(failure.message))
            } catch {
                return .output(.failure("tool \(name) failed: \(error)"))
            }
        }
        // The deadline is a timer in the clock's scheduler, never a task of its own. When nothing
        // can follow a timeout in this task, it cancels this task; else the tool runs in a child
        // that it cancels. Either way the tool has ended when this returns.
        if inOwnTask {
            let (outcome, expired) = await TaskDeadline.run(on: clock, until: deadline, body)
            if expired { return timedOut }
            if Task.isCancelled { return .cancelled }
            return outcome ?? .cancelled
        }
        let outcome = await DeadlineRace.run(on: clock, until: deadline, body)
        if Task.isCancelled { return .cancelled }
        switch outcome {
        case nil: return timedOut
        case .some(nil): return .cancelled
        case .some(let finished?): return finished
        }
    }

    /// The attempt's rate-limit token, waiting for it if the wait fits before `deadline`; nil once
    /// it is taken. A function of its own so that its locals are not part of the frame every
    /// attempt allocates in its task.
    private func takeToken(_ bucket: String, for call: ToolCall, until deadline: Duration) async -> AttemptOutcome? {
        let remaining = max(deadline - clock.now, .zero)
        switch await rateLimits.reserve(bucket: bucket, tokens: 1, limit: remaining) {
        case .refused(let wait)?:
            metrics.rateLimitRejected(bucket: bucket)
            return .rateLimited(bucket, wait: wait)
        case .granted(let wait)? where wait > .zero:
            metrics.rateLimitWaited(bucket: bucket, wait: wait)
            call.events.emit("ratelimit.wait", ["callId": .string(call.callID), "bucket": .string(bucket), "waitMs": .int(wait.millisecondsRoundedUp)])
            do {
                try await clock.sleep(for: wait)
            } catch {
                await rateLimits.refund(bucket: bucket, tokens: 1)
                return .cancelled
            }
            return nil
        case .granted?, nil:
            return nil
        }
    }

    private func finish(_ call: ToolCall, _ output: ToolOutput, attempts: Int, started: Duration) -> CallOutcome {
        let durationMs = (clock.now - started).milliseconds
        let (output, truncated) = Self.bounded(output, maxBytes: bounds.withLock { $0.maxResultBytes })
        var result = Self.callToolResult(output, durationMs: durationMs, attempts: attempts)
        if truncated, case .object(var object) = result, case .object(var meta)? = object["_meta"],
           case .object(var toolformer)? = meta["toolformer"] {
            toolformer["truncated"] = true
            meta["toolformer"] = .object(toolformer)
            object["_meta"] = .object(meta)
            result = .object(object)
        }
        guard call.events.isEnabled else { return .result(result) }
        call.events.emit("tool.finished", [
            "callId": .string(call.callID), "name": .string(call.name), "isError": .bool(output.isError),
            "cached": false, "durationMs": .int(durationMs), "result": result,
        ])
        return .result(result)
    }

    /// `output` within `maxBytes` of text: a longer text is cut at a character boundary and ends
    /// with a marker that says how much was left out; `structuredContent` too big to keep whole is
    /// dropped (half a JSON value would be worse than none), and the marker says that too.
    static func bounded(_ output: ToolOutput, maxBytes: Int) -> (ToolOutput, truncated: Bool) {
        let textBytes = output.text.utf8.count
        // Counted, not written: this runs for every result.
        let structuredBytes = output.structuredContent.map { JSONWriter.byteCount($0) } ?? 0
        guard textBytes > maxBytes || structuredBytes > maxBytes else { return (output, false) }
        var bounded = output
        var notes: [String] = []
        if textBytes > maxBytes {
            let marker = "\n[toolformerd: result truncated: \(maxBytes) of \(textBytes) bytes kept]"
            let utf8 = output.text.utf8
            var end = utf8.index(utf8.startIndex, offsetBy: max(0, maxBytes - marker.utf8.count))
            // Back up off continuation bytes (10xxxxxx) so the cut falls between scalars.
            while end > utf8.startIndex && utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
            bounded.text = String(decoding: utf8[..<end], as: UTF8.self) + marker
            notes.append("text")
        }
        if structuredBytes > maxBytes {
            bounded.structuredContent = nil
            if !notes.contains("text") {
                bounded.text += "\n[toolformerd: structuredContent of \(structuredBytes) bytes dropped: over \(maxBytes) bytes]"
            }
        }
        return (bounded, true)
    }

    /// MCP's CallToolResult with the daemon's `_meta.toolformer`.
    ///
    /// Built from pairs with known keys, five allocations in all: one per tool call, and a batch
    /// of 10,000 built it with dictionary literals at three times that.
    public static func callToolResult(
        _ output: ToolOutput, durationMs: Int64, attempts: Int = 1, cached: Bool = false, error: ToolformerError? = nil
    ) -> JSONValue {
        var meta: [JSONObject.Element] = [("cached", .bool(cached)), ("attempts", .int(Int64(attempts))), ("durationMs", .int(durationMs))]
        if let error { meta.append(("error", .object(error.errorObject))) }
        var result: [JSONObject.Element] = []
        result.reserveCapacity(4)
        result.append(("content", .array([.object(JSONObject(uniquePairs: [("type", "text"), ("text", .string(output.text))]))])))
        if let structured = output.structuredContent { result.append(("structuredContent", structured)) }
        result.append(("isError", .bool(output.isError)))
        result.append(("_meta", .object(JSONObject(uniquePairs: [("toolformer", .object(JSONObject(uniquePairs: meta)))]))))
        return .object(JSONObject(uniquePairs: result))
    }

    /// `daemon/status`'s view: calls running per tool, and the queues.
    public func status() -> JSONObject {
        let running = inflight.withLock { $0 }
        var perToolRunning = JSONObject()
        for (name, count) in running.sorted(by: { $0.key < $1.key }) where count > 0 { perToolRunning[name] = .int(Int64(count)) }
        func describe(_ snapshot: FairSemaphore.Snapshot) -> JSONValue {
            ["limit": .int(Int64(snapshot.limit)), "running": .int(Int64(snapshot.inUse)), "queued": .int(Int64(snapshot.waiting))]
        }
        var queues: JSONObject = ["global": describe(global.snapshot)]
        for (name, semaphore) in perTool.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            queues[name] = describe(semaphore.snapshot)
        }
        let hedgeCounts = hedges.withLock { $0 }
        return [
            "inflightByTool": .object(perToolRunning), "queues": .object(queues), "rateLimits": .object(rateLimits.status()),
            "hedges": ["started": .int(Int64(hedgeCounts.started)), "won": .int(Int64(hedgeCounts.won))],
            "overloadRefusals": .int(Int64(refusals.load(ordering: .relaxed))),
            "maxQueued": .int(Int64(min(bounds.withLock { $0.maxQueued }, Int(Int64.max)))),
        ]
    }
}
