public import ToolformerCore
public import ToolformerProtocol

/// The shared cache tier: results in Redis, under the same canonical key on every daemon, for the
/// tool's TTL (`SET ... PX`), compressed as the memory tier keeps them.
///
/// Values larger than `max_value_bytes` stay local. What comes back is checked as any tier's
/// would be: a value that does not decode, or is expired, is a miss.
public struct RedisCacheStore: CacheStore {
    public let cluster: RedisCluster
    let keys: RedisKeys

    /// GET, but a value over the limit (written by a daemon with a larger `max_value_bytes`)
    /// is a miss on the server's side instead of a reply larger than this daemon accepts.
    static let boundedGet = RedisScript("""
        local value = redis.call('GET', KEYS[1])
        if value and #value > tonumber(ARGV[1]) then return false end
        return value
        """)

    /// No value is inflated past this, whatever a value's header claims.
    static let maxInflatedBytes = 64 << 20

    public init(cluster: RedisCluster) {
        self.cluster = cluster
        keys = RedisKeys(prefix: cluster.keyPrefix)
    }

    public func get(_ key: CacheKey, nowUnixMs: Int64) async -> StoredValue? {
        let name = keys.cache(key)
        let limit = cluster.maxValueBytes
        guard let reply = await cluster.perform({ commands throws(RedisError) in
            try await commands.eval(Self.boundedGet, keys: [RedisArgument(name)], arguments: [RedisArgument(limit)])
        }) else { return nil }
        guard let bytes = reply.bytes, let value = Self.decode(bytes), value.expiresAtUnixMs > nowUnixMs else {
            cluster.count(\.sharedMisses)
            return nil
        }
        cluster.count(\.sharedHits)
        return value
    }

    public func put(_ key: CacheKey, _ value: StoredValue) async {
        let ttl = value.expiresAtUnixMs - WallClock.unixMilliseconds()
        guard ttl > 0 else { return }
        let encoded = Self.encode(value)
        guard encoded.count <= cluster.maxValueBytes else {
            cluster.count(\.sharedTooLarge)
            return
        }
        let name = keys.cache(key)
        let stored = await cluster.perform { commands throws(RedisError) in
            try await commands.send(RedisCommand("SET", [RedisArgument(name), RedisArgument(bytes: encoded), "PX", RedisArgument(ttl)]))
        }
        if stored != nil { cluster.count(\.sharedWrites) }
    }

    /// `cache/clear`: every daemon's results (or one tool's) go, since they share them.
    public func remove(namespace: String?) async -> Int {
        let pattern = keys.cachePattern(namespace: namespace)
        let removed = await cluster.perform { commands throws(RedisError) -> Int in
            var cursor = "0"
            var removed = 0
            repeat {
                let reply = try await commands.send(RedisCommand("SCAN", [RedisArgument(cursor), "MATCH", RedisArgument(pattern), "COUNT", 500]))
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let names = parts[1].array else {
                    throw .protocolError("SCAN did not answer with a cursor and keys")
                }
                cursor = next
                let arguments = names.compactMap(\.bytes).map { RedisArgument(bytes: $0) }
                if !arguments.isEmpty {
                    removed += Int(try await commands.send(RedisCommand("UNLINK", arguments)).integer ?? 0)
                }
            } while cursor != "0"
            return removed
        } ?? 0
        cluster.count(\.sharedRemoved, by: removed)
        return removed
    }

    public func status() -> JSONObject {
        let counters = cluster.counters
        return [
            "state": .string(cluster.mode.rawValue), "hits": .int(Int64(counters.sharedHits)),
            "misses": .int(Int64(counters.sharedMisses)), "writes": .int(Int64(counters.sharedWrites)),
            "tooLarge": .int(Int64(counters.sharedTooLarge)), "maxValueBytes": .int(Int64(cluster.maxValueBytes)),
        ]
    }

    public func statusSections() -> JSONObject { ["shared": .object(status())] }

    // MARK: - Value format

    /// `TF` 1, flags (bit 0: compressed), the size before compression and the expiry (both
    /// 64-bit big-endian), then the bytes.
    static func encode(_ value: StoredValue) -> [UInt8] {
        var bytes: [UInt8] = [0x54, 0x46, 1, value.compressed ? 1 : 0]
        bytes.reserveCapacity(20 + value.bytes.count)
        appendBigEndian(UInt64(value.size), to: &bytes)
        appendBigEndian(UInt64(bitPattern: value.expiresAtUnixMs), to: &bytes)
        bytes += value.bytes
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> StoredValue? {
        guard bytes.count >= 20, bytes[0] == 0x54, bytes[1] == 0x46, bytes[2] == 1, bytes[3] <= 1 else { return nil }
        let size = readBigEndian(bytes, at: 4)
        let expires = Int64(bitPattern: readBigEndian(bytes, at: 12))
        let payload = Array(bytes[20...])
        let compressed = bytes[3] == 1
        guard size <= UInt64(maxInflatedBytes), compressed || Int(size) == payload.count else { return nil }
        return StoredValue(bytes: payload, compressed: compressed, size: Int(size), expiresAtUnixMs: expires)
    }

    private static func appendBigEndian(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private static func readBigEndian(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }
}
