/// A least-recently-used table over an array of nodes linked by index: O(1) lookup, touch,
/// insert and eviction, no per-entry allocation beyond the value itself.
struct LRUTable<Value> {
    private struct Node {
        var key: CacheKey
        var value: Value
        var previous: Int
        var next: Int
    }

    private var index: [CacheKey: Int] = [:]
    private var nodes: [Node?] = []
    private var free: [Int] = []
    /// Most recently used.
    private var head = -1
    /// Least recently used: evicted first.
    private var tail = -1

    var count: Int { index.count }

    /// The value, marked most recently used.
    mutating func get(_ key: CacheKey) -> Value? {
        guard let slot = index[key] else { return nil }
        moveToFront(slot)
        return nodes[slot]!.value
    }

    /// Inserts or replaces; returns the value replaced.
    @discardableResult
    mutating func set(_ key: CacheKey, _ value: Value) -> Value? {
        if let slot = index[key] {
            let old = nodes[slot]!.value
            nodes[slot]!.value = value
            moveToFront(slot)
            return old
        }
        let node = Node(key: key, value: value, previous: -1, next: head)
        let slot: Int
        if let reused = free.popLast() {
            nodes[reused] = node
            slot = reused
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if head >= 0 { nodes[head]!.previous = slot }
        head = slot
        if tail < 0 { tail = slot }
        index[key] = slot
        return nil
    }

    @discardableResult
    mutating func remove(_ key: CacheKey) -> Value? {
        guard let slot = index.removeValue(forKey: key) else { return nil }
        unlink(slot)
        let value = nodes[slot]!.value
        nodes[slot] = nil
        free.append(slot)
        return value
    }

    /// Removes and returns the least recently used entry.
    mutating func removeOldest() -> (key: CacheKey, value: Value)? {
        guard tail >= 0, let node = nodes[tail] else { return nil }
        remove(node.key)
        return (node.key, node.value)
    }

    /// Removes every entry `predicate` selects; returns them.
    mutating func removeAll(where predicate: (CacheKey, Value) -> Bool) -> [(key: CacheKey, value: Value)] {
        let doomed = index.keys.filter { predicate($0, nodes[index[$0]!]!.value) }
        return doomed.compactMap { key in remove(key).map { (key, $0) } }
    }

    private mutating func unlink(_ slot: Int) {
        let node = nodes[slot]!
        if node.previous >= 0 { nodes[node.previous]!.next = node.next } else { head = node.next }
        if node.next >= 0 { nodes[node.next]!.previous = node.previous } else { tail = node.previous }
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        nodes[slot]!.previous = -1
        nodes[slot]!.next = head
        if head >= 0 { nodes[head]!.previous = slot }
        head = slot
        if tail < 0 { tail = slot }
    }
}
