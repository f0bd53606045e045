import Synchronization
import ToolformerCore

/// A clock that moves only when a test says so; sleepers wake when it passes their deadline.
final class ManualClock: ToolformerClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: Duration
        var wake: Wake
    }

    /// A sleeping task, or a scheduled action.
    private enum Wake {
        case continuation(CheckedContinuation<Void, any Error>)
        case action(@Sendable () -> Void)

        func callAsFunction() {
            switch self {
            case .continuation(let continuation): continuation.resume()
            case .action(let action): action()
            }
        }
    }

    private struct Timer: ClockTimer {
        let id: UInt64
        let clock: ManualClock
        func cancel() { clock.state.withLock { $0.sleepers.removeAll { $0.id == id } } }
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
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, wake: .continuation(continuation)))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let removed = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            if case .continuation(let continuation)? = removed?.wake { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Runs `action` at once when the deadline has passed, else when `advance` passes it.
    func schedule(at deadline: Duration, _ action: @escaping @Sendable () -> Void) -> any ClockTimer {
        let id = state.withLock { state -> UInt64? in
            guard deadline > state.now else { return nil }
            state.nextID += 1
            state.sleepers.append(Sleeper(id: state.nextID, deadline: deadline, wake: .action(action)))
            return state.nextID
        }
        guard let id else {
            action()
            return Timer(id: 0, clock: self)
        }
        return Timer(id: id, clock: self)
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    func advance(by duration: Duration) {
        let woken = state.withLock { state -> [Sleeper] in
            state.now += duration
            let due = state.sleepers.filter { $0.deadline <= state.now }
            state.sleepers.removeAll { $0.deadline <= state.now }
            return due
        }
        for sleeper in woken { sleeper.wake() }
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
