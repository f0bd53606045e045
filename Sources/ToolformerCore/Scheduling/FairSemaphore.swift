import Synchronization

/// A counting semaphore that serves waiting owners in turn (see ``FairQueue``).
///
/// A waiter is resumed exactly once: by a release that hands it the permit, or by cancellation,
/// whichever takes it out of the queue first under the lock. A cancelled acquire throws
/// `CancellationError` and holds nothing.
public final class FairSemaphore: Sendable {
    private struct State {
        var queue: FairQueue<CheckedContinuation<Void, any Error>>
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    public init(limit: Int) { state = Mutex(State(queue: FairQueue(limit: limit))) }

    public func acquire(owner: UInt64) async throws {
        // The common case, a free permit and nobody waiting, takes it without suspending.
        let (granted, id): (Bool, UInt64) = state.withLock { state in
            if state.queue.tryAcquire() { return (true, 0) }
            state.nextID &+= 1
            return (false, state.nextID)
        }
        if granted {
            if Task.isCancelled {
                release()
                throw CancellationError()
            }
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action = state.withLock { $0.queue.acquire(id: id, owner: owner, waiter: continuation) }
                switch action {
                case .granted:
                    continuation.resume()
                case .wait:
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

    /// A reload's new limit; waiters that now fit are let in.
    public func setLimit(_ limit: Int) {
        for waiter in state.withLock({ $0.queue.setLimit(limit) }) { waiter.resume() }
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
