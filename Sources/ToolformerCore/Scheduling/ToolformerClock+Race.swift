import Synchronization

extension ToolformerClock {
    /// Runs `operation` in a child task and returns its value, or nil when `deadline` comes first,
    /// in which case the child is cancelled. Either way the child has ended when this returns, so
    /// nothing it started outlives the race; a cancelled caller cancels the child, which returns.
    ///
    /// One child task and one ``schedule(at:_:)`` timer: racing `operation` against a second
    /// child that slept until the deadline cost two tasks and a timer of its own per race.
    public func race<T: Sendable>(until deadline: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
        let race = DeadlineRace<T>()
        return await withDiscardingTaskGroup(returning: T?.self) { group in
            group.addTask { race.decide(.value(await operation())) }
            let timer = schedule(at: deadline) { race.decide(.expired) }
            let decision = await race.decision
            timer.cancel()
            switch decision {
            case .value(let value):
                return value
            case .expired:
                group.cancelAll()
                return nil
            }
        }
    }
}

/// The first of an operation's value and its deadline, handed to the one task waiting for it.
final class DeadlineRace<Value: Sendable>: Sendable {
    enum Decision: Sendable {
        case value(Value)
        case expired
    }

    private struct State {
        var decision: Decision?
        var waiter: CheckedContinuation<Decision, Never>?
    }

    private let state = Mutex(State())

    /// The first call decides; later ones are ignored.
    func decide(_ decision: Decision) {
        let waiter = state.withLock { state -> CheckedContinuation<Decision, Never>? in
            guard state.decision == nil else { return nil }
            state.decision = decision
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: decision)
    }

    /// Waits for the decision (or returns it, if it came first).
    var decision: Decision {
        get async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Decision, Never>) in
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
