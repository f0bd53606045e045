import Synchronization

/// A deadline that cancels the task that set it: work raced against a deadline with no task at
/// all, for a caller whose task runs nothing else that cancellation could spoil.
///
/// ``DeadlineRace`` needs a child task, because a task once cancelled stays cancelled: a caller
/// that goes on after a timeout (a retry, a cache store, the next turn) must not be the one
/// cancelled. A call that owns its task and cannot go on after a timeout (a batch's child whose
/// next step is to return its result) can let the deadline cancel that task instead, and skip
/// the child: with 10,000 calls in a batch that child was a third of each call's cost.
///
/// Lifetime: the timer's action holds the task only as an `UnsafeCurrentTask`, which does not
/// keep it alive. The handshake below makes that safe: the action cancels only while the state is
/// `.firing`, and ``run(on:until:_:)`` does not return (so the task does not end) until it has
/// seen `.expired` after `.firing`, or has set `.finished` before the action looked.
final class TaskDeadline: Sendable {
    private enum Phase {
        /// The timer waits; the body runs.
        case armed
        /// The timer fired and is cancelling the task.
        case firing
        /// The task was cancelled by the deadline.
        case expired
        /// The body ended before the timer fired: the action must not touch the task.
        case finished
    }

    private struct State {
        var phase = Phase.armed
        /// The task's end, waiting for an action that is cancelling it.
        var waiter: UnsafeContinuation<Void, Never>?
    }

    /// The current task, used only while the handshake says it runs (see the type's comment).
    private struct TaskReference: @unchecked Sendable {
        let task: UnsafeCurrentTask
    }

    private let state = Mutex(State())
    private let task: TaskReference?

    private init(task: UnsafeCurrentTask?) {
        self.task = task.map(TaskReference.init)
    }

    /// Runs `body` in the current task; if `deadline` on `clock` comes first, the current task is
    /// cancelled (for good: the caller must own it and go on to nothing that cares) and `expired`
    /// is true. A value `body` returned after the deadline fired is still returned; the caller
    /// decides what an expired call answers.
    static func run<T>(
        on clock: any ToolformerClock, until deadline: Duration, _ body: () async -> T
    ) async -> (value: T, expired: Bool) {
        // Escaping the reference is what the handshake is for.
        let guardian = TaskDeadline(task: withUnsafeCurrentTask { $0 })
        let timer = clock.schedule(at: deadline) { guardian.fire() }
        let value = await body()
        timer.cancel()
        return (value, await guardian.end())
    }

    /// The timer's action: cancels the task unless the body ended first.
    private func fire() {
        let proceed = state.withLock { state in
            guard case .armed = state.phase else { return false }
            state.phase = .firing
            return true
        }
        guard proceed else { return }
        // Outside the lock: cancellation runs the task's cancellation handlers here and now.
        task?.task.cancel()
        let waiter = state.withLock { state in
            state.phase = .expired
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Whether the deadline cancelled the task; waits, if it is doing so right now, until it has.
    private func end() async -> Bool {
        let phase = state.withLock { state in
            if case .armed = state.phase { state.phase = .finished }
            return state.phase
        }
        switch phase {
        case .finished: return false
        case .expired: return true
        case .armed, .firing:
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let done = state.withLock { state in
                    if case .expired = state.phase { return true }
                    state.waiter = continuation
                    return false
                }
                if done { continuation.resume() }
            }
            return true
        }
    }
}
