import Synchronization

/// A counting semaphore that serves waiting owners in turn (see ``FairQueue``).
///
/// A waiter is resumed exactly once: by a release that hands it the permit, or by cancellation,
/// whichever takes it out of the queue first under the lock. A cancelled acquire throws
/// `CancellationError` and holds nothing. The queue is bounded: an acquire that would make more
/// than `maxWaiting` wait throws ``QueueFull`` at once, so a flood costs refusals, not memory.
public final class FairSemaphore: Sendable {
    /// The queue already holds `maxWaiting` waiters.
    public struct QueueFull: Error, Sendable, Equatable {
        public var waiting: Int
    }

    private struct State {
        var queue: FairQueue<CheckedContinuation<Void, any Error>>
        var nextID: UInt64 = 0
        var maxWaiting: Int
    }

    private let state: Mutex<State>

    public init(limit: Int, maxWaiting: Int = .max) {
        state = Mutex(State(queue: FairQueue(limit: limit), maxWaiting: max(0, maxWaiting)))
    }

    public func acquire(owner: UInt64) async throws {
        // The common case, a free permit and nobody waiting, takes it without suspending.
        let (granted, id, full): (Bool, UInt64, Int?) = state.withLock { state in
            if state.queue.tryAcquire() { return (true, 0, nil) }
            if state.queue.waiting >= state.maxWaiting { return (false, 0, state.queue.waiting) }
            state.nextID &+= 1
            return (false, state.nextID, nil)
        }
        if let full { throw QueueFull(waiting: full) }
        if granted {
            if Task.isCancelled {
                release()
                throw CancellationError()
            }
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // The bound is checked again under the same lock that queues, so that callers
                // racing past the first check cannot overshoot it.
                let action: FairQueue<CheckedContinuation<Void, any Error>>.AcquireAction? = state.withLock { state in
                    let free = state.queue.inUse < state.queue.limit && state.queue.waiting == 0
                    if !free && state.queue.waiting >= state.maxWaiting { return nil }
                    return state.queue.acquire(id: id, owner: owner, waiter: continuation)
                }
                switch action {
                case nil:
                    continuation.resume(throwing: QueueFull(waiting: state.withLock { $0.queue.waiting }))
                case .granted?:
                    continuation.resume()
                case .wait?:
                    // Cancelled before the waiter was queued: the handler found nothing to remove.
                    if Task.isCancelled, let waiter = state.withLock({ $0.queue.remove(id: id, owner: owner) }) {
                        waiter.resume(throwing: CancellationError())
                    }
                }
            }
        } onCancel: {
            if let waiter = state.withLock({ $0.queue.remove(id: id, owner: owner) }) {
                waiter.resume(throwing: CancellationError())
            }
        }
    }

    public func release() {
        state.withLock { $0.queue.release() }?.resume()
    }

    /// A reload's new limit; waiters that now fit are let in. A smaller `maxWaiting` refuses new
    /// waiters only: those already queued keep their place.
    public func setLimit(_ limit: Int, maxWaiting: Int? = nil) {
        let granted = state.withLock { state in
            if let maxWaiting { state.maxWaiting = max(0, maxWaiting) }
            return state.queue.setLimit(limit)
        }
        for waiter in granted { waiter.resume() }
    }

    public struct Snapshot: Sendable, Equatable {
        public var limit: Int
        public var inUse: Int
        public var waiting: Int

        public init(limit: Int, inUse: Int, waiting: Int) {
            self.limit = limit
            self.inUse = inUse
            self.waiting = waiting
        }
    }

    public var snapshot: Snapshot {
        state.withLock { Snapshot(limit: $0.queue.limit, inUse: $0.queue.inUse, waiting: $0.queue.waiting) }
    }
}
