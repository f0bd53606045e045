import Synchronization
import Testing
import ToolformerCore
import ToolformerProtocol

/// A tier in memory that records what was asked of it.
private final class RecordingTier: CacheStore {
    let name: String
    let values = Mutex<[CacheKey: StoredValue]>([:])
    let gets = Mutex(0)

    init(_ name: String) { self.name = name }

    func get(_ key: CacheKey, nowUnixMs: Int64) async -> StoredValue? {
        gets.withLock { $0 += 1 }
        return values.withLock { $0[key] }
    }
    func put(_ key: CacheKey, _ value: StoredValue) async { values.withLock { $0[key] = value } }
    func remove(namespace: String?) async -> Int {
        values.withLock { values in
            let doomed = values.keys.filter { namespace == nil || $0.namespace == namespace }
            for key in doomed { values[key] = nil }
            return doomed.count
        }
    }
    func status() -> JSONObject { ["entries": .int(Int64(values.withLock { $0.count }))] }
    func statusSections() -> JSONObject { [name: .object(status())] }
}

@Suite("TieredCacheStore")
struct TieredCacheStoreTests {
    let key = CacheKey.tool("t", fingerprint: "f", arguments: ["a": 1])
    let value = StoredValue(bytes: Array("{}".utf8), compressed: false, size: 2, expiresAtUnixMs: .max)

    @Test func readsStopAtTheFirstTierAndFillTheNearerOnes() async {
        let near = RecordingTier("disk")
        let far = RecordingTier("shared")
        let tiers = TieredCacheStore([near, far])
        await far.put(key, value)
        #expect(await tiers.get(key, nowUnixMs: 0) == value)
        #expect(near.values.withLock { $0[key] } == value)
        // Now the near tier answers, and the far one is not asked again.
        #expect(await tiers.get(key, nowUnixMs: 0) == value)
        #expect(far.gets.withLock { $0 } == 1)
    }

    @Test func writesRemovalsAndStatusCoverEveryTier() async {
        let near = RecordingTier("disk")
        let far = RecordingTier("shared")
        let tiers = TieredCacheStore([near, far])
        await tiers.put(key, value)
        #expect(near.values.withLock { $0.count } == 1 && far.values.withLock { $0.count } == 1)
        #expect(tiers.statusSections()["disk"]?["entries"] == 1)
        #expect(tiers.statusSections()["shared"]?["entries"] == 1)
        #expect(await tiers.remove(namespace: "tool:t") == 2)
        #expect(await tiers.get(key, nowUnixMs: 0) == nil)
    }

    @Test func composeKeepsSingleTiersAsTheyAre() {
        #expect(TieredCacheStore.compose([nil, nil]) == nil)
        #expect(TieredCacheStore.compose([nil, RecordingTier("shared")])?.statusSections()["shared"] != nil)
        #expect(TieredCacheStore.compose([RecordingTier("disk"), RecordingTier("shared")]) is TieredCacheStore)
    }

    @Test func resultCacheShowsEachTiersSection() async {
        let cache = ResultCache(settings: .init(maxEntries: 10, maxBytes: 1 << 20, compressMinBytes: 1 << 20),
                                tier: TieredCacheStore([RecordingTier("disk"), RecordingTier("shared")]))
        await cache.store(key, ["x": 1], ttl: .seconds(60))
        let status = cache.status()
        #expect(status["disk"]?["entries"] == 1)
        #expect(status["shared"]?["entries"] == 1)
    }
}
