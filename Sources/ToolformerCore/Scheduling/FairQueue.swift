import DequeModule

/// The bookkeeping of a fair semaphore, as a value type that returns what to do.
///
/// Waiters are grouped by owner (a connection); a freed permit goes to the next owner in turn,
/// and within an owner to its oldest waiter. So one client's 10,000-call batch waits in its own
/// line while another client's single call is served at the next free permit.
public struct FairQueue<Waiter>: Sendable where Waiter: Sendable {
    public private(set) var limit: Int
    public private(set) var inUse = 0
    private var lines: [UInt64: Deque<(id: UInt64, waiter: Waiter)>] = [:]
    private var turn: Deque<UInt64> = []
    public private(set) var waiting = 0

    public init(limit: Int) { self.limit = max(1, limit) }

    public enum AcquireAction {
        case granted
        case wait
    }

    /// Takes a permit if one is free and nobody waits; false otherwise (nothing is queued).
    public mutating func tryAcquire() -> Bool {
        guard inUse < limit && waiting == 0 else { return false }
        inUse += 1
        return true
    }

    /// Takes a permit at once if one is free and nobody waits; otherwise queues `waiter`.
    public mutating func acquire(id: UInt64, owner: UInt64, waiter: Waiter) -> AcquireAction {
        if inUse < limit && waiting == 0 {
            inUse += 1
            return .granted
        }
        if lines[owner] == nil || lines[owner]!.isEmpty { turn.append(owner) }
        lines[owner, default: []].append((id, waiter))
        waiting += 1
        return .wait
    }

    /// Frees a permit; returns the waiter it now belongs to, if any.
    public mutating func release() -> Waiter? {
        inUse -= 1
        return grantNext()
    }

    /// Removes a waiter that gave up (cancelled, deadline); nil if it was already granted.
    public mutating func remove(id: UInt64, owner: UInt64) -> Waiter? {
        guard var line = lines[owner], let index = line.firstIndex(where: { $0.id == id }) else { return nil }
        let removed = line.remove(at: index)
        waiting -= 1
        if line.isEmpty {
            lines[owner] = nil
            turn.removeAll { $0 == owner }
        } else {
            lines[owner] = line
        }
        return removed.waiter
    }

    /// Changes the limit (a reload); returns the waiters that now get a permit.
    public mutating func setLimit(_ newLimit: Int) -> [Waiter] {
        limit = max(1, newLimit)
        var granted: [Waiter] = []
        while let next = grantNext() { granted.append(next) }
        return granted
    }

    /// Gives a free permit to the oldest waiter of the owner whose turn it is.
    private mutating func grantNext() -> Waiter? {
        guard inUse < limit, let owner = turn.popFirst(), var line = lines[owner] else { return nil }
        let next = line.removeFirst()
        waiting -= 1
        if line.isEmpty {
            lines[owner] = nil
        } else {
            lines[owner] = line
            turn.append(owner)
        }
        inUse += 1
        return next.waiter
    }
}
