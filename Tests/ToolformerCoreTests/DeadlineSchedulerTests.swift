import Dispatch
import Synchronization
import Testing
@testable import ToolformerCore

@Suite struct TimerHeapTests {
    @Test func timersLeaveInDeadlineOrderWhateverOrderTheyCameIn() {
        let origin = ContinuousClock.now
        var heap = TimerHeap()
        var generator = SystemRandomNumberGenerator()
        let offsets = (0..<200).map { _ in Int.random(in: 0..<50, using: &generator) }
        let timers = offsets.map { DeadlineScheduler.Timer(deadline: origin + .milliseconds($0)) }
        for timer in timers { heap.insert(timer) }
        #expect(heap.count == 200)
        // Nothing is due before the earliest deadline.
        #expect(heap.popEarliest(notAfter: DeadlineScheduler.ticks(origin - .milliseconds(1))) == nil)
        let cut = DeadlineScheduler.ticks(origin + .milliseconds(20))
        var popped: [Int64] = []
        while let timer = heap.popEarliest(notAfter: cut) {
            #expect(timer.heapIndex == -1)
            popped.append(timer.deadline)
        }
        #expect(popped == timers.map(\.deadline).filter { $0 <= cut }.sorted())
        #expect(heap.count == offsets.filter { $0 > 20 }.count)
    }

    @Test func aTimerTakenOutFromTheMiddleKeepsTheRestInOrder() {
        let origin = ContinuousClock.now
        var heap = TimerHeap()
        let timers = (0..<64).map { DeadlineScheduler.Timer(deadline: origin + .milliseconds(($0 * 37) % 64)) }
        for timer in timers { heap.insert(timer) }
        // Every index stays true to where its timer sits.
        for (index, timer) in heap.timers.enumerated() { #expect(timer.heapIndex == index) }
        let removed = timers.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
        for timer in removed { heap.remove(timer) }
        for timer in removed { #expect(timer.heapIndex == -1) }
        for (index, timer) in heap.timers.enumerated() { #expect(timer.heapIndex == index) }
        var left: [Int64] = []
        while let timer = heap.popEarliest(notAfter: .max) { left.append(timer.deadline) }
        let expected = timers.enumerated().filter { $0.offset % 3 != 0 }.map(\.element.deadline).sorted()
        #expect(left == expected)
        #expect(heap.count == 0)
    }

    @Test func theHeapHoldsATimerOnlyWhileItIsInIt() {
        weak var removed: DeadlineScheduler.Timer?
        weak var left: DeadlineScheduler.Timer?
        do {
            var heap = TimerHeap()
            do {
                let first = DeadlineScheduler.Timer(deadline: .now + .seconds(1))
                let second = DeadlineScheduler.Timer(deadline: .now + .seconds(2))
                heap.insert(first)
                heap.insert(second)
                removed = first
                left = second
                heap.remove(first)
            }
            #expect(removed == nil)
            #expect(left?.heapIndex == 0)
            #expect(heap.count == 1)
        }
        #expect(left == nil)
    }

    @Test func deadlinesCountInNanosecondsAndSaturate() {
        let origin = DeadlineScheduler.origin
        #expect(DeadlineScheduler.ticks(origin) == 0)
        #expect(DeadlineScheduler.ticks(origin + .nanoseconds(1_500)) == 1_500)
        #expect(DeadlineScheduler.ticks(origin + .seconds(3) + .milliseconds(2)) == 3_002_000_000)
        #expect(DeadlineScheduler.ticks(origin - .seconds(1)) == -1_000_000_000)
        #expect(DeadlineScheduler.ticks(origin + .seconds(Int64.max / 2)) == .max)
    }
}

@Suite(.timeLimit(.minutes(1))) struct DeadlineSchedulerTests {
    @Test func timersFireInOrderAndNeverBeforeTheirDeadline() async throws {
        // The queue is held while the timers are scheduled, so that a fire in between cannot
        // decide the order: once it runs, every due timer goes in deadline order.
        let queue = DispatchQueue(label: "test.timers")
        let scheduler = DeadlineScheduler(queue: queue)
        queue.suspend()
        let fired = Mutex<[(Int, ContinuousClock.Instant)]>([])
        let origin = ContinuousClock.now
        let offsets = [40, 10, 30, 0, 20, -5]
        var deadlines: [ContinuousClock.Instant] = []
        for (index, offset) in offsets.enumerated() {
            let deadline = origin + .milliseconds(offset)
            deadlines.append(deadline)
            let scheduled = scheduler.schedule(DeadlineScheduler.Timer(deadline: deadline)) { wasFired in
                if !wasFired { Issue.record("timer \(index) was cancelled") }
                fired.withLock { $0.append((index, .now)) }
            }
            #expect(scheduled)
        }
        try await Task.sleep(for: .milliseconds(50))
        queue.resume()
        while fired.withLock({ $0.count }) < offsets.count { try await Task.sleep(for: .milliseconds(2)) }
        let order = fired.withLock { $0 }
        #expect(order.map(\.0) == [5, 3, 1, 4, 2, 0])
        for (index, at) in order { #expect(at >= deadlines[index]) }
        #expect(scheduler.count == 0)
    }

    @Test func aCancelledTimerRunsItsActionOnceWithFalseAndLeavesAtOnce() async throws {
        let scheduler = DeadlineScheduler(label: "test.timers")
        let calls = Mutex<[Bool]>([])
        let timer = DeadlineScheduler.Timer(deadline: .now + .milliseconds(30))
        #expect(scheduler.schedule(timer) { wasFired in calls.withLock { $0.append(wasFired) } })
        // Scheduling it again is refused: a timer runs once.
        let again = scheduler.schedule(timer) { _ in Issue.record("scheduled twice") }
        #expect(!again)
        #expect(scheduler.count == 1)
        scheduler.cancel(timer)
        #expect(calls.withLock { $0 } == [false])
        #expect(scheduler.count == 0)
        scheduler.cancel(timer)
        try await Task.sleep(for: .milliseconds(60))
        #expect(calls.withLock { $0 } == [false])
    }

    @Test func aTimerCancelledBeforeItIsScheduledIsRefused() {
        let scheduler = DeadlineScheduler(label: "test.timers")
        let timer = DeadlineScheduler.Timer(deadline: .now + .seconds(60))
        scheduler.cancel(timer)
        let scheduled = scheduler.schedule(timer) { _ in Issue.record("a cancelled timer ran") }
        #expect(!scheduled)
        #expect(scheduler.count == 0)
    }

    @Test func anEarlierTimerRearmsTheSourceAndALaterOneWaits() async throws {
        let scheduler = DeadlineScheduler(label: "test.timers")
        let fired = Mutex<[String]>([])
        let late = DeadlineScheduler.Timer(deadline: .now + .seconds(30))
        scheduler.schedule(late) { wasFired in fired.withLock { $0.append(wasFired ? "late" : "late cancelled") } }
        // Armed for 30 s; an earlier one must not wait for that.
        let started = ContinuousClock.now
        scheduler.schedule(DeadlineScheduler.Timer(deadline: .now + .milliseconds(20))) { _ in fired.withLock { $0.append("early") } }
        while fired.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(2)) }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(fired.withLock { $0 } == ["early"])
        #expect(scheduler.count == 1)
        scheduler.cancel(late)
        #expect(fired.withLock { $0 } == ["early", "late cancelled"])
    }

    @Test func aCancelledSleepEndsAtOnceAndAnUncancelledOneLastsItsTime() async throws {
        let started = ContinuousClock.now
        try await CancellableSleep.until(.now + .milliseconds(20))
        #expect(ContinuousClock.now - started >= .milliseconds(20))

        let long = Task { try await CancellableSleep.until(.now + .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(10))
        long.cancel()
        await #expect(throws: CancellationError.self) { try await long.value }

        // Cancelled before it starts: refused without arming anything.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await CancellableSleep.until(.now + .seconds(3600))
        }
        await #expect(throws: CancellationError.self) { try await early.value }
    }
}

@Suite(.timeLimit(.minutes(1))) struct DeadlineRaceTests {
    let clock = ManualClock()

    @Test func theOperationWinsAndItsTimerIsGone() async {
        let value = await DeadlineRace.run(on: clock, until: .seconds(5)) { 42 }
        #expect(value == 42)
        #expect(clock.nextDeadline == nil)
    }

    @Test func theDeadlineWinsAndTheOperationIsCancelledAndOverBeforeTheRaceReturns() async throws {
        let ended = Mutex(false)
        let race = Task {
            await DeadlineRace.run(on: clock, until: .milliseconds(300)) { () -> String in
                defer { ended.withLock { $0 = true } }
                do {
                    try await Task.sleep(for: .seconds(3600))
                    return "slept"
                } catch {
                    return "cancelled"
                }
            }
        }
        try await clock.waitForSleeper(until: .milliseconds(300))
        #expect(!ended.withLock { $0 })
        clock.advance(by: .milliseconds(300))
        #expect(await race.value == nil)
        #expect(ended.withLock { $0 })
        #expect(clock.nextDeadline == nil)
    }

    @Test func aDeadlineAlreadyPastDecidesAtOnce() async {
        clock.advance(by: .seconds(1))
        let value = await DeadlineRace.run(on: clock, until: .milliseconds(500)) { () -> Int in
            try? await Task.sleep(for: .seconds(3600))
            return 1
        }
        #expect(value == nil)
    }

    @Test func aCancelledCallerCancelsTheOperationWhichAnswers() async throws {
        let started = Mutex(false)
        let race = Task {
            await DeadlineRace.run(on: clock, until: .seconds(60)) { () -> String in
                started.withLock { $0 = true }
                do {
                    try await Task.sleep(for: .seconds(3600))
                    return "slept"
                } catch {
                    return "cancelled"
                }
            }
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        race.cancel()
        #expect(await race.value == "cancelled")
        #expect(clock.nextDeadline == nil)
    }
}

@Suite(.timeLimit(.minutes(1))) struct TaskDeadlineTests {
    let clock = ManualClock()

    @Test func aBodyThatEndsFirstLeavesTheTaskUncancelledAndNoTimer() async {
        let (value, expired) = await TaskDeadline.run(on: clock, until: .seconds(5)) { 7 }
        #expect(value == 7)
        #expect(!expired)
        #expect(!Task.isCancelled)
        #expect(clock.nextDeadline == nil)
    }

    @Test func theDeadlineCancelsTheTaskItWasSetIn() async throws {
        let run = Task { () -> (String, Bool, Bool) in
            let (value, expired) = await TaskDeadline.run(on: clock, until: .milliseconds(300)) { () -> String in
                do {
                    try await clock.sleep(until: .seconds(3600))
                    return "slept"
                } catch {
                    return "cancelled"
                }
            }
            return (value, expired, Task.isCancelled)
        }
        try await clock.waitForSleeper(until: .milliseconds(300))
        clock.advance(by: .milliseconds(300))
        let (value, expired, cancelled) = await run.value
        #expect(value == "cancelled")
        #expect(expired)
        #expect(cancelled)
        #expect(clock.nextDeadline == nil)
    }

    @Test func aDeadlineAlreadyPastCancelsBeforeTheBodyStarts() async {
        clock.advance(by: .seconds(1))
        let run = Task {
            await TaskDeadline.run(on: clock, until: .milliseconds(500)) { Task.isCancelled }
        }
        let (sawCancellation, expired) = await run.value
        #expect(sawCancellation)
        #expect(expired)
    }

    /// The handshake under a real clock: deadlines that fall right around the body's end. Expired
    /// must mean the task was cancelled and the reverse, every time, with no crash.
    @Test func expiredAndCancelledAgreeWhenTheDeadlineAndTheEndRace() async {
        let clock = SystemClock()
        let counts = RaceCounts()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<2000 {
                group.addTask {
                    let deadline = clock.now + .microseconds(index % 50)
                    let (_, expired) = await TaskDeadline.run(on: clock, until: deadline) {
                        if index % 2 == 0 { await Task.yield() }
                        return 0
                    }
                    let agree = expired == Task.isCancelled
                    counts.value.withLock { $0.expired += expired ? 1 : 0; $0.disagreements += agree ? 0 : 1 }
                }
            }
        }
        #expect(counts.value.withLock { $0.disagreements } == 0)
    }
}

private final class RaceCounts: Sendable {
    let value = Mutex((expired: 0, disagreements: 0))
}
