/// What the disk tier knows without touching the disk: each entry's hash, namespace and file size,
/// kept in least-recently-used order. A value type that the store keeps under its lock.
///
/// The recency list is threaded through the dictionary (each entry names its older and newer
/// neighbour), so a touch, an insert and an eviction are O(1) with no second structure to keep
/// in step.
struct DiskCacheIndex {
    struct Entry {
        var namespace: String
        /// The disk space the file takes (whole blocks of it): what the byte budget counts.
        var size: Int
        fileprivate var older: UInt64?
        fileprivate var newer: UInt64?
    }

    private(set) var entries: [UInt64: Entry] = [:]
    private(set) var bytes = 0
    private var oldest: UInt64?
    private var newest: UInt64?
    /// One copy of each namespace string, shared by all its entries.
    private var namespaces: Set<String> = []

    var count: Int { entries.count }

    func contains(_ hash: UInt64) -> Bool { entries[hash] != nil }

    /// Adds or replaces the entry for `hash`; it becomes the most recently used.
    mutating func insert(_ hash: UInt64, namespace: String, size: Int) {
        remove(hash)
        let shared = namespaces.insert(namespace).memberAfterInsert
        entries[hash] = Entry(namespace: shared, size: size, older: newest, newer: nil)
        if let newest { entries[newest]!.newer = hash } else { oldest = hash }
        newest = hash
        bytes += size
    }

    /// Marks `hash` as just used; false when it is not there.
    @discardableResult
    mutating func touch(_ hash: UInt64) -> Bool {
        guard let entry = entries[hash] else { return false }
        if newest != hash {
            unlink(hash, entry)
            entries[hash]!.older = newest
            entries[hash]!.newer = nil
            if let newest { entries[newest]!.newer = hash } else { oldest = hash }
            newest = hash
        }
        return true
    }

    @discardableResult
    mutating func remove(_ hash: UInt64) -> Entry? {
        guard let entry = entries.removeValue(forKey: hash) else { return nil }
        unlink(hash, entry)
        bytes -= entry.size
        return entry
    }

    mutating func removeOldest() -> (hash: UInt64, entry: Entry)? {
        guard let hash = oldest, let entry = remove(hash) else { return nil }
        return (hash, entry)
    }

    /// Removes the entries whose namespace matches; returns their hashes.
    mutating func removeAll(where matches: (String) -> Bool) -> [UInt64] {
        let doomed = entries.compactMap { matches($0.value.namespace) ? $0.key : nil }
        for hash in doomed { remove(hash) }
        return doomed
    }

    /// Hashes from least to most recently used (for tests and the start-up trim).
    var hashesOldestFirst: [UInt64] {
        var result: [UInt64] = []
        result.reserveCapacity(entries.count)
        var cursor = oldest
        while let hash = cursor {
            result.append(hash)
            cursor = entries[hash]?.newer
        }
        return result
    }

    /// Takes `entry` (still holding its old links) out of the recency list; its neighbours close up.
    private mutating func unlink(_ hash: UInt64, _ entry: Entry) {
        if let older = entry.older {
            entries[older]?.newer = entry.newer
        } else if oldest == hash {
            oldest = entry.newer
        }
        if let newer = entry.newer {
            entries[newer]?.older = entry.older
        } else if newest == hash {
            newest = entry.older
        }
    }
}
