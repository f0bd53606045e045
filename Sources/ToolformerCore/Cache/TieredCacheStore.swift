public import ToolformerProtocol

/// Several tiers behind the memory one, nearest first (disk, then Redis): a read stops at the
/// first tier that has the value and copies it into the nearer ones; a write goes to every tier.
public struct TieredCacheStore: CacheStore {
    public let tiers: [any CacheStore]

    public init(_ tiers: [any CacheStore]) { self.tiers = tiers }

    /// The tiers given as one store: nil for none, the tier itself for one.
    public static func compose(_ tiers: [(any CacheStore)?]) -> (any CacheStore)? {
        let present = tiers.compactMap { $0 }
        switch present.count {
        case 0: return nil
        case 1: return present[0]
        default: return TieredCacheStore(present)
        }
    }

    public func get(_ key: CacheKey, nowUnixMs: Int64) async -> StoredValue? {
        for (index, tier) in tiers.enumerated() {
            guard let value = await tier.get(key, nowUnixMs: nowUnixMs) else { continue }
            for nearer in tiers[..<index] { await nearer.put(key, value) }
            return value
        }
        return nil
    }

    public func put(_ key: CacheKey, _ value: StoredValue) async {
        for tier in tiers { await tier.put(key, value) }
    }

    public func remove(namespace: String?) async -> Int {
        var removed = 0
        for tier in tiers { removed += await tier.remove(namespace: namespace) }
        return removed
    }

    public func status() -> JSONObject { statusSections() }

    public func statusSections() -> JSONObject {
        var sections = JSONObject()
        for tier in tiers {
            for (name, section) in tier.statusSections().pairs { sections[name] = section }
        }
        return sections
    }
}
