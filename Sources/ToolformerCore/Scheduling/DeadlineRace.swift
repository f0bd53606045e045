import Synchronization

/// Work raced against a deadline on a ``ToolformerClock``, with one task.
///
/// The first of the operation's end and the clock's timer decides, under a lock, and wakes the
/// one task waiting for it. Not generic over the value (the child task hands that back through its
/// group), so no generic metadata is looked up per race: that was 8% of a batch's instructions.
public final class DeadlineRace: Sendable {
    enum Decision: Sendable {
        case finished
        case expired
    }

    private struct State {
        var decision: Decision?
        var waiter: UnsafeContinuation<Decision, Never>?
    }

    private let state = Mutex(State())

    init() {}

    /// Runs `operation` in a child task and returns its value, or nil when `deadline` on `clock`
    /// comes first, in which case the child is cancelled. Either way the child has ended when this
    /// returns, so nothing it started outlives the race; a cancelled caller cancels the child, which
    /// returns.
    ///
    /// One child task and one ``ToolformerClock/schedule(at:_:)`` timer: racing `operation`
    /// against a second child that slept until the deadline cost two tasks and a timer of its own.
    public static func run<T: Sendable>(
        on clock: any ToolformerClock, until deadline: Duration, _ operation: @escaping @Sendable () async -> T
    ) async -> T? {
        let race = DeadlineRace()
        return await withTaskGroup(of: T.self, returning: T?.self) { group in
            group.addTask {
                let value = await operation()
                race.decide(.finished)
                return value
            }
            let timer = clock.schedule(at: deadline) { race.decide(.expired) }
            let decision = await race.decision
            timer.cancel()
            switch decision {
            case .finished:
                return await group.next()
            case .expired:
                group.cancelAll()
                return nil
            }
        }
    }

    /// The first call decides; later ones are ignored.
    func decide(_ decision: Decision) {
        let waiter = state.withLock { state -> UnsafeContinuation<Decision, Never>? in
            guard state.decision == nil else { return nil }
            state.decision = decision
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: decision)
    }

    /// Waits for the decision, or returns it if it came first. One task waits, once: the lock
    /// hands the continuation to exactly one resume.
    var decision: Decision {
        get async {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Decision, Never>) in
                let decided = state.withLock { state -> Decision? in
                    if let decision = state.decision { return decision }
                    state.waiter = continuation
                    return nil
                }
                if let decided { continuation.resume(returning: decided) }
            }
        }
    }
}
