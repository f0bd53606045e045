public import ToolformerProtocol
import Synchronization

/// The daemon's one result cache: a bounded LRU in memory, in front of an optional second tier
/// (`TieredCacheStore`: on disk, then Redis). Tool results and, opt-in, LLM responses share it.
///
/// Values are kept encoded (compact JSON, deflated from `compressMinBytes`), so `maxBytes` counts
/// what each entry really holds, and a value is the same bytes in every tier.
public final class ResultCache: Sendable {
    public struct Settings: Sendable, Equatable {
        public var maxEntries: Int
        public var maxBytes: Int
        public var compressMinBytes: Int

        public init(maxEntries: Int, maxBytes: Int, compressMinBytes: Int) {
            self.maxEntries = maxEntries
            self.maxBytes = maxBytes
            self.compressMinBytes = compressMinBytes
        }

        public init(_ config: ToolformerConfig.Cache) {
            self.init(maxEntries: config.maxEntries, maxBytes: config.maxBytes, compressMinBytes: config.compressMinBytes)
        }
    }

    /// What an entry costs besides its bytes: the key, the table's node, the index slot.
    static func cost(_ key: CacheKey, _ value: StoredValue) -> Int { value.bytes.count + key.text.utf8.count + 96 }

    private struct State {
        var settings: Settings
        var table = LRUTable<StoredValue>()
        var bytes = 0
        var compressedEntries = 0
        var compressedBytes = 0
        var hits = 0
        var misses = 0
        var evictions = 0
        var expired = 0
        var tierHits = 0
    }

    private let state: Mutex<State>
    private let tier: (any CacheStore)?
    private let nowUnixMs: @Sendable () -> Int64

    public init(settings: Settings, tier: (any CacheStore)? = nil, nowUnixMs: @escaping @Sendable () -> Int64 = ResultCache.wallClockMs) {
        state = Mutex(State(settings: settings))
        self.tier = tier
        self.nowUnixMs = nowUnixMs
    }

    public static let wallClockMs = WallClock.unixMilliseconds

    /// A reload's new bounds; entries past them are evicted at once.
    public func apply(_ settings: Settings) {
        state.withLock { state in
            state.settings = settings
            Self.evict(&state)
        }
    }

    /// The value for `key`, from memory or the second tier; nil when absent or expired.
    /// The memory tier alone, without waiting: a live entry, or nil. A miss is not counted here:
    /// the caller goes on to ``lookup(_:)``, which counts it (and drops an expired entry).
    /// The value's bytes as ``store(_:_:ttl:)`` wrote them (``JSONWriter``'s), inflated, not parsed.
    public func lookupInMemory(_ key: CacheKey) -> [UInt8]? {
        let now = nowUnixMs()
        let value: StoredValue? = state.withLock { state in
            guard let value = state.table.get(key), value.expiresAtUnixMs > now else { return nil }
            state.hits += 1
            return value
        }
        guard let value else { return nil }
        return value.compressed ? Compression.inflate(value.bytes, size: value.size) : value.bytes
    }

    public func lookup(_ key: CacheKey) async -> JSONValue? {
        let now = nowUnixMs()
        let local: StoredValue?? = state.withLock { state in
            guard let value = state.table.get(key) else { return .none }
            if value.expiresAtUnixMs <= now {
                Self.drop(key, from: &state)
                state.expired += 1
                return .some(nil)
            }
            state.hits += 1
            return .some(value)
        }
        if case .some(.some(let value)) = local { return Self.decode(value) }
        if let tier, let value = await tier.get(key, nowUnixMs: now), value.expiresAtUnixMs > now,
            let decoded = Self.decode(value)
        {
            state.withLock { state in
                state.hits += 1
                state.tierHits += 1
                Self.insert(key, value, into: &state)
            }
            return decoded
        }
        state.withLock { $0.misses += 1 }
        return nil
    }

    /// Stores `value` for `ttl` in memory, then in the second tier.
    public func store(_ key: CacheKey, _ value: JSONValue, ttl: Duration) async {
        guard ttl > .zero else { return }
        // Exactly sized: the writer's buffer grew by doubling, and the cache keeps it for long.
        let encoded = JSONWriter.bytes(value).withUnsafeBufferPointer { Array($0) }
        let minimum = state.withLock { $0.settings.compressMinBytes }
        var stored = StoredValue(
            bytes: encoded, compressed: false, size: encoded.count,
            expiresAtUnixMs: nowUnixMs() + ttl.milliseconds)
        if encoded.count >= minimum, let deflated = Compression.deflate(encoded).map({ $0.withUnsafeBufferPointer { Array($0) } }) {
            stored.bytes = deflated
            stored.compressed = true
        }
        state.withLock { Self.insert(key, stored, into: &$0) }
        await tier?.put(key, stored)
    }

    /// Removes every entry, or one namespace's (`tool:NAME`); returns how many left memory, and
    /// how many left the second tier.
    public func clear(namespace: String?) async -> (memory: Int, tier: Int) {
        let removed = state.withLock { state in
            let doomed = state.table.removeAll { key, _ in namespace == nil || key.namespace == namespace }
            for (key, value) in doomed { Self.account(value, key: key, sign: -1, in: &state) }
            return doomed.count
        }
        let fromTier = await tier?.remove(namespace: namespace) ?? 0
        return (removed, fromTier)
    }

    public func status() -> JSONObject {
        var status: JSONObject = state.withLock { state in
            [
                "entries": .int(Int64(state.table.count)), "bytes": .int(Int64(state.bytes)),
                "maxEntries": .int(Int64(state.settings.maxEntries)), "maxBytes": .int(Int64(state.settings.maxBytes)),
                "hits": .int(Int64(state.hits)), "misses": .int(Int64(state.misses)),
                "evictions": .int(Int64(state.evictions)), "expired": .int(Int64(state.expired)),
                "compressedEntries": .int(Int64(state.compressedEntries)),
                "compressedBytes": .int(Int64(state.compressedBytes)), "tierHits": .int(Int64(state.tierHits)),
            ]
        }
        if let tier { for (name, section) in tier.statusSections().pairs { status[name] = section } }
        return status
    }

    // MARK: - Bookkeeping under the lock

    private static func insert(_ key: CacheKey, _ value: StoredValue, into state: inout State) {
        // A value that could never fit is not worth evicting everything else for.
        guard cost(key, value) <= state.settings.maxBytes / 4 || state.settings.maxBytes < 4096 else { return }
        if let old = state.table.set(key, value) { account(old, key: key, sign: -1, in: &state) }
        account(value, key: key, sign: 1, in: &state)
        evict(&state)
    }

    private static func drop(_ key: CacheKey, from state: inout State) {
        if let old = state.table.remove(key) { account(old, key: key, sign: -1, in: &state) }
    }

    private static func evict(_ state: inout State) {
        while state.table.count > state.settings.maxEntries || state.bytes > state.settings.maxBytes,
            let (key, value) = state.table.removeOldest()
        {
            account(value, key: key, sign: -1, in: &state)
            state.evictions += 1
        }
    }

    private static func account(_ value: StoredValue, key: CacheKey, sign: Int, in state: inout State) {
        state.bytes += sign * cost(key, value)
        if value.compressed {
            state.compressedEntries += sign
            state.compressedBytes += sign * value.bytes.count
        }
    }

    static func decode(_ value: StoredValue) -> JSONValue? {
        let bytes = value.compressed ? Compression.inflate(value.bytes, size: value.size) : value.bytes
        guard let bytes else { return nil }
        // Deep enough for any value the daemon accepted (requests nest at most 64 levels, and a
        // result wraps them in a few more); a deeper tokener costs a large memset on every hit.
        return try? JSONParser(maxDepth: 80).parse(bytes)
    }
}
