import Dispatch
import Synchronization

/// Every timer of the process on one dispatch timer: sleeps and deadlines wait in a heap, and the
/// one dispatch source is armed for the earliest.
///
/// A timer per sleep cost a dispatch source each (made, armed, cancelled and freed through
/// libdispatch's own timer heap): with a deadline racing every tool call and the `sleep` tool
/// sleeping on another, that was two sources per call and a fifth of a batch's instructions. Here a
/// timer is one small object and a heap insertion; a cancelled one leaves the heap, and its
/// memory goes, at once (which is why `CancellableSleep` exists: see its comment).
///
/// An action runs once: with `true` on the scheduler's queue when its deadline passes, or with
/// `false` on the thread that cancels it, if that takes it out of the heap first. Actions run
/// outside the lock and must be short (resume a continuation, mark a race): they run one after
/// another on one queue.
public final class DeadlineScheduler: Sendable {
    /// What runs when a timer fires (`true`) or is cancelled before it fired (`false`).
    public typealias Action = @Sendable (_ fired: Bool) -> Void

    /// One wake-up. Make it, then ``DeadlineScheduler/schedule(_:_:)`` it once.
    public final class Timer: @unchecked Sendable {
        /// Nanoseconds since ``DeadlineScheduler/origin``.
        let deadline: Int64
        // The rest is read and written only under the scheduler's lock, except `action`, which
        // whoever takes the timer out of the heap (fire or cancel, under the lock) then owns
        // alone. That is why this class may be unchecked Sendable.
        /// Where it sits in the heap; -1 when it is not in it.
        var heapIndex = -1
        var action: Action?
        /// Fired or cancelled: it never runs (again).
        var finished = false

        public init(deadline: ContinuousClock.Instant) { self.deadline = DeadlineScheduler.ticks(deadline) }

        /// Only by whoever took the timer out of the heap.
        fileprivate func runAction(fired: Bool) {
            let action = self.action
            self.action = nil
            action?(fired)
        }
    }

    private struct State: ~Copyable {
        var heap = TimerHeap()
        /// When the source is armed for, if it is: a later insertion need not touch it.
        var armedFor: Int64?
    }

    /// libdispatch's sources are thread-safe objects; Swift's overlay just does not say so.
    private struct Source: @unchecked Sendable {
        let timer: any DispatchSourceTimer
    }

    /// Where deadlines are counted from. They are kept as nanoseconds, not as
    /// `ContinuousClock.Instant`, whose layout the standard library does not freeze: every copy
    /// of one in the heap went through value witnesses (a tenth of a batch's instructions).
    static let origin = ContinuousClock.now

    static func ticks(_ instant: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (instant - origin).components
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowed) = nanoseconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowed ? .max : sum
    }

    /// The process's scheduler, on a queue of its own.
    public static let shared = DeadlineScheduler(label: "toolformer.timers")

    private let state = Mutex(State())
    private let source: Source

    public convenience init(label: String) { self.init(queue: DispatchQueue(label: label)) }

    /// On `queue`, which should be serial and its own (a test may suspend it).
    init(queue: DispatchQueue) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        source = Source(timer: timer)
        timer.setEventHandler { [weak self] in self?.fire() }
        timer.resume()
    }

    deinit {
        source.timer.setEventHandler {}
        source.timer.cancel()
    }

    /// How many timers wait (for tests and status).
    public var count: Int { state.withLock { $0.heap.count } }

    /// Arms `timer` for its deadline. False when it was cancelled (or scheduled) before: `action`
    /// is dropped and never runs. A deadline already past fires on the queue, never inside this call.
    @discardableResult
    public func schedule(_ timer: Timer, _ action: @escaping Action) -> Bool {
        state.withLock { state in
            guard !timer.finished, timer.heapIndex < 0 else { return false }
            let deadline = timer.deadline
            timer.action = action
            state.heap.insert(timer)
            // Arming under the lock keeps two racing insertions from leaving the later deadline armed.
            if state.armedFor.map({ deadline < $0 }) ?? true {
                state.armedFor = deadline
                arm(for: deadline)
            }
            return true
        }
    }

    /// Cancels `timer`: if it is still waiting, it leaves the heap and its action runs here with
    /// `false`; if it fired already, nothing happens. A timer cancelled before it was scheduled
    /// stays cancelled, and `schedule` refuses it.
    public func cancel(_ timer: Timer) {
        let removed = state.withLock { state in
            timer.finished = true
            guard timer.heapIndex >= 0 else { return false }
            state.heap.remove(timer)
            return true
        }
        // The action stays in the timer until here: carried out of the lock as a closure it
        // was boxed again, an allocation per timer.
        guard removed else { return }
        timer.runAction(fired: false)
    }

    private func arm(for deadline: Int64) {
        // Nothing here waits longer than a day (the sleep tool's maximum); a year is "never".
        let (difference, overflow) = deadline.subtractingReportingOverflow(Self.ticks(.now))
        let remaining = overflow ? Int64.max : difference
        let nanoseconds = Int(min(max(remaining, 0), 365 * 86_400 * 1_000_000_000))
        source.timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), leeway: .nanoseconds(0))
    }

    private func fire() {
        let now = Self.ticks(.now)
        let due: [Timer] = state.withLock { state in
            var due: [Timer] = []
            while let timer = state.heap.popEarliest(notAfter: now) {
                timer.finished = true
                due.append(timer)
            }
            state.armedFor = state.heap.earliestDeadline
            if let next = state.armedFor { arm(for: next) }
            return due
        }
        for timer in due { timer.runAction(fired: true) }
    }
}

/// A binary min-heap of timers by deadline, each knowing its place so it can leave in O(log n).
/// A value type over the timers' fields; the scheduler holds it under its lock. Deadlines sit in
/// the slots beside the timers, so sifting compares without following pointers, and the heap
/// holds each timer with one retain from insertion to removal, so moving a slot costs no
/// reference counting (with the timers strongly held, retains and releases in siftDown were 4%
/// of a batch's time, atomics on lines the other cores wanted).
struct TimerHeap: ~Copyable {
    private struct Slot {
        var deadline: Int64
        var timer: Unmanaged<DeadlineScheduler.Timer>
    }

    private var slots: [Slot] = []

    init() {}

    deinit {
        for slot in slots {
            slot.timer.takeUnretainedValue().heapIndex = -1
            slot.timer.release()
        }
    }

    var count: Int { slots.count }
    var earliestDeadline: Int64? { slots.first?.deadline }
    /// The timers in heap order (for tests).
    var timers: [DeadlineScheduler.Timer] { slots.map { $0.timer.takeUnretainedValue() } }

    mutating func insert(_ timer: DeadlineScheduler.Timer) {
        slots.append(Slot(deadline: timer.deadline, timer: .passRetained(timer)))
        siftUp(slots.count - 1)
    }

    /// The earliest timer if its deadline is at or before `now`, taken out of the heap.
    mutating func popEarliest(notAfter now: Int64) -> DeadlineScheduler.Timer? {
        guard let first = slots.first, first.deadline <= now else { return nil }
        let timer = first.timer.takeUnretainedValue()
        remove(timer)
        return timer
    }

    mutating func remove(_ timer: DeadlineScheduler.Timer) {
        let index = timer.heapIndex
        precondition(
            index >= 0 && index < slots.count && slots[index].timer.toOpaque() == Unmanaged.passUnretained(timer).toOpaque(),
            "timer not in this heap")
        timer.heapIndex = -1
        // The caller holds the timer, so the heap's retain can go now.
        slots[index].timer.release()
        let last = slots.removeLast()
        guard index < slots.count else { return }
        // The last slot fills the hole and moves up or down from there.
        place(last, at: index)
        if index > 0 && last.deadline < slots[(index - 1) / 2].deadline {
            siftUp(index)
        } else {
            siftDown(index)
        }
    }

    private mutating func place(_ slot: Slot, at index: Int) {
        slots[index] = slot
        slot.timer._withUnsafeGuaranteedRef { $0.heapIndex = index }
    }

    private mutating func siftUp(_ start: Int) {
        let moving = slots[start]
        var index = start
        while index > 0 {
            let parent = (index - 1) / 2
            guard moving.deadline < slots[parent].deadline else { break }
            place(slots[parent], at: index)
            index = parent
        }
        place(moving, at: index)
    }

    private mutating func siftDown(_ start: Int) {
        let moving = slots[start]
        var index = start
        let count = slots.count
        while true {
            let left = 2 * index + 1
            guard left < count else { break }
            let right = left + 1
            let child = right < count && slots[right].deadline < slots[left].deadline ? right : left
            guard slots[child].deadline < moving.deadline else { break }
            place(slots[child], at: index)
            index = child
        }
        place(moving, at: index)
    }
}
