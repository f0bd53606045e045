import Synchronization
import Testing
import ToolformerCore

@Suite struct TokenBucketTests {
    @Test func aBurstThenOneTokenPerInterval() {
        var bucket = TokenBucket(capacity: 3, ratePerSecond: 10, now: .zero)
        for _ in 0..<3 { #expect(bucket.reserve(now: .zero, maxWait: .zero) == .granted(wait: .zero)) }
        // Empty: the next waits 100 ms, the one after 200 ms: reservations queue in arrival order.
        #expect(bucket.reserve(now: .zero, maxWait: .seconds(1)) == .granted(wait: .milliseconds(100)))
        #expect(bucket.reserve(now: .zero, maxWait: .seconds(1)) == .granted(wait: .milliseconds(200)))
        // 250 ms later 2.5 tokens came back: the debt of two is paid, half a token is left, so the
        // next waits 50 ms for the other half.
        #expect(bucket.reserve(now: .milliseconds(250), maxWait: .seconds(1)) == .granted(wait: .milliseconds(50)))
    }

    @Test func aWaitPastTheLimitIsRefusedWithoutTakingAnything() {
        var bucket = TokenBucket(capacity: 1, ratePerSecond: 2, now: .zero)
        #expect(bucket.reserve(now: .zero, maxWait: .zero) == .granted(wait: .zero))
        #expect(bucket.reserve(now: .zero, maxWait: .milliseconds(100)) == .refused(retryAfter: .milliseconds(500)))
        #expect(bucket.reserve(now: .zero, maxWait: .milliseconds(100)) == .refused(retryAfter: .milliseconds(500)))
        #expect(bucket.reserve(now: .zero, maxWait: .milliseconds(500)) == .granted(wait: .milliseconds(500)))
    }

    @Test func refillStopsAtCapacityAndRefundsReturnTokens() {
        var bucket = TokenBucket(capacity: 2, ratePerSecond: 1, now: .zero)
        _ = bucket.reserve(now: .zero, maxWait: .zero)
        _ = bucket.reserve(now: .zero, maxWait: .zero)
        #expect(bucket.level(now: .seconds(100)) == 2)
        _ = bucket.reserve(now: .seconds(100), maxWait: .zero)
        bucket.refund(now: .seconds(100))
        #expect(bucket.level(now: .seconds(100)) == 2)
    }
}

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 8, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(1000))

    @Test func exponentialCeilingCappedAtTheMaximum() {
        let ceilings = (1...6).map { policy.delay(afterAttempt: $0, unit: { 1 }) }
        #expect(ceilings == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1000), .milliseconds(1000)])
    }

    @Test func fullJitterDrawsBetweenZeroAndTheCeiling() {
        #expect(policy.delay(afterAttempt: 3, unit: { 0 }) == .zero)
        #expect(policy.delay(afterAttempt: 3, unit: { 0.5 }) == .milliseconds(200))
    }

    @Test func retryAfterIsAFloor() {
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(2), unit: { 0.5 }) == .seconds(2))
        #expect(policy.delay(afterAttempt: 4, retryAfter: .milliseconds(10), unit: { 1 }) == .milliseconds(800))
    }
}

@Suite struct FairQueueTests {
    @Test func aSingleCallIsNotStarvedByABigBatch() {
        var queue = FairQueue<String>(limit: 1)
        #expect(queue.acquire(id: 1, owner: 1, waiter: "a1") == .granted)
        for index in 2...5 { #expect(queue.acquire(id: UInt64(index), owner: 1, waiter: "a\(index)") == .wait) }
        #expect(queue.acquire(id: 99, owner: 2, waiter: "b1") == .wait)
        var order: [String] = []
        while let next = queue.release() { order.append(next) }
        // B's one call goes right after the first of A's queued ones, not after all of them.
        #expect(order == ["a2", "b1", "a3", "a4", "a5"])
        #expect(queue.inUse == 0 || queue.inUse == 1)
    }

    @Test func removingAWaiterAndRaisingTheLimit() {
        var queue = FairQueue<Int>(limit: 1)
        #expect(queue.acquire(id: 1, owner: 1, waiter: 1) == .granted)
        #expect(queue.acquire(id: 2, owner: 1, waiter: 2) == .wait)
        #expect(queue.acquire(id: 3, owner: 2, waiter: 3) == .wait)
        #expect(queue.acquire(id: 4, owner: 3, waiter: 4) == .wait)
        #expect(queue.remove(id: 3, owner: 2) == 3)
        #expect(queue.remove(id: 3, owner: 2) == nil)
        #expect(queue.waiting == 2)
        #expect(queue.setLimit(3) == [2, 4])
        #expect(queue.inUse == 3)
        #expect(queue.waiting == 0)
        #expect(queue.release() == nil)
        #expect(queue.inUse == 2)
    }
}

@Suite(.timeLimit(.minutes(1))) struct FairSemaphoreTests {
    @Test func waitersRunInTurnAndCancelledOnesLeaveNoTrace() async throws {
        let semaphore = FairSemaphore(limit: 1)
        try await semaphore.acquire(owner: 1)
        let order = Mutex<[String]>([])
        let waiter = Task {
            try await semaphore.acquire(owner: 2)
            order.withLock { $0.append("b") }
            semaphore.release()
        }
        let cancelled = Task { try await semaphore.acquire(owner: 3) }
        while semaphore.snapshot.waiting < 2 { try await Task.sleep(for: .milliseconds(1)) }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(semaphore.snapshot.waiting == 1)
        semaphore.release()
        try await waiter.value
        #expect(order.withLock { $0 } == ["b"])
        #expect(semaphore.snapshot == FairSemaphore.Snapshot(limit: 1, inUse: 0, waiting: 0))
    }

    @Test func aFullQueueRefusesAtOnceAndTakesWaitersAgainOnceItMoves() async throws {
        let semaphore = FairSemaphore(limit: 1, maxWaiting: 2)
        try await semaphore.acquire(owner: 1)
        // Many callers race for the two places; exactly two wait, the rest are refused.
        let outcomes = Outcomes()
        var waiters: [Task<Void, any Error>] = []
        for index in 0..<8 {
            let owner = UInt64(10 + index)
            waiters.append(Task {
                do {
                    try await semaphore.acquire(owner: owner)
                    outcomes.counts.withLock { $0.queued += 1 }
                    semaphore.release()
                } catch let full as FairSemaphore.QueueFull {
                    #expect(full.waiting == 2)
                    outcomes.counts.withLock { $0.refused += 1 }
                }
            })
        }
        while outcomes.counts.withLock({ $0.refused }) < 6 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(semaphore.snapshot.waiting == 2)
        semaphore.release()
        for waiter in waiters { try await waiter.value }
        let (queued, refused) = outcomes.counts.withLock { $0 }
        #expect(queued == 2 && refused == 6)
        // Room again once the queue moved.
        try await semaphore.acquire(owner: 1)
        semaphore.release()
        #expect(semaphore.snapshot == FairSemaphore.Snapshot(limit: 1, inUse: 0, waiting: 0))
    }
}

/// Counts shared by the tasks of one test.
private final class Outcomes: Sendable {
    let counts = Mutex<(queued: Int, refused: Int)>((0, 0))
}
