import Synchronization
import ToolformerCore

/// A clock that moves only when a test says so; sleepers wake when it passes their deadline.
final class ManualClock: ToolformerClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Duration = .zero
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    var now: Duration { state.withLock { $0.now } }

    func sleep(until deadline: Duration) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready = state.withLock { state in
                    if deadline <= state.now { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let removed = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            removed?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    func advance(by duration: Duration) {
        let woken = state.withLock { state -> [Sleeper] in
            state.now += duration
            let due = state.sleepers.filter { $0.deadline <= state.now }
            state.sleepers.removeAll { $0.deadline <= state.now }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// The earliest deadline anyone sleeps until, if anyone sleeps.
    var nextDeadline: Duration? { state.withLock { $0.sleepers.map(\.deadline).min() } }

    /// Waits (really, briefly) until someone sleeps until `deadline`.
    func waitForSleeper(until deadline: Duration) async throws {
        for _ in 0..<2000 {
            if state.withLock({ $0.sleepers.contains { $0.deadline == deadline } }) { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("no sleeper until \(deadline); sleepers: \(state.withLock { $0.sleepers.map(\.deadline) })")
        throw CancellationError()
    }
}

import Testing
