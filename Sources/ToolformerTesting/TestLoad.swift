import Foundation
import Synchronization

/// A counting semaphore for tests that load the machine, admitting waiters strictly in arrival
/// order so that a test wanting every slot is not overtaken for ever by tests wanting one.
///
/// Its capacity is `TOOLFORMER_TEST_SLOTS` when set, else twice the processors (at least 4): these
/// tests spend most of their time waiting on a daemon, so a few per core keep the cores busy
/// without queueing a few hundred processes on them.
public final class TestLoad: Sendable {
    public static let shared = TestLoad(capacity: TestLoad.defaultCapacity)

    public let capacity: Int

    private struct Waiter {
        let weight: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var available: Int
        var waiting: [Waiter] = []
    }

    private let state: Mutex<State>

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        state = Mutex(State(available: capacity))
    }

    public static var defaultCapacity: Int {
        if let text = ProcessInfo.processInfo.environment["TOOLFORMER_TEST_SLOTS"], let value = Int(text), value > 0 {
            return value
        }
        return max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Waits until `weight` slots (at most the capacity) are free and nobody came before.
    public func acquire(_ weight: Int) async {
        let weight = min(max(weight, 1), capacity)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state in
                guard state.waiting.isEmpty, state.available >= weight else {
                    state.waiting.append(Waiter(weight: weight, continuation: continuation))
                    return false
                }
                state.available -= weight
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    public func release(_ weight: Int) {
        let weight = min(max(weight, 1), capacity)
        let admitted: [Waiter] = state.withLock { state in
            state.available += weight
            var admitted: [Waiter] = []
            while let first = state.waiting.first, first.weight <= state.available {
                state.available -= first.weight
                admitted.append(state.waiting.removeFirst())
            }
            return admitted
        }
        for waiter in admitted { waiter.continuation.resume() }
    }

    /// Slots free now, and waiters queued (for tests of this type).
    public var available: Int { state.withLock { $0.available } }
    public var waitingCount: Int { state.withLock { $0.waiting.count } }
}
