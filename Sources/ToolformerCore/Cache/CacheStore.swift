public import ToolformerProtocol

/// A cached value as every tier stores it: the encoded result, compressed or not.
public struct StoredValue: Sendable, Equatable {
    /// The encoded result; zlib-compressed when `compressed`.
    public var bytes: [UInt8]
    public var compressed: Bool
    /// Size of the encoded result before compression.
    public var size: Int
    /// Wall-clock expiry, Unix milliseconds, so a tier on disk or in Redis keeps the TTL across
    /// restarts and hosts.
    public var expiresAtUnixMs: Int64

    public init(bytes: [UInt8], compressed: Bool, size: Int, expiresAtUnixMs: Int64) {
        self.bytes = bytes
        self.compressed = compressed
        self.size = size
        self.expiresAtUnixMs = expiresAtUnixMs
    }
}

/// A cache tier behind the memory one: on disk, in Redis, or several in order
/// (``TieredCacheStore``). Written behind the memory tier, read on a memory miss. A tier must never
/// return an expired or corrupted value; it may lose values at any time.
public protocol CacheStore: Sendable {
    func get(_ key: CacheKey, nowUnixMs: Int64) async -> StoredValue?
    func put(_ key: CacheKey, _ value: StoredValue) async
    /// Removes every value, or those of one namespace; returns how many.
    func remove(namespace: String?) async -> Int
    /// `daemon/status`'s view of the tier; synchronous, from counters kept as it works.
    func status() -> JSONObject
    /// The members this tier adds to `daemon/status`'s `cache` object, by the tier's name:
    /// `["disk": status()]`, `["shared": status()]`, or several for a composition.
    func statusSections() -> JSONObject
}
