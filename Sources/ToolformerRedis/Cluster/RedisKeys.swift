public import ToolformerCore

/// The names of the daemon's keys in Redis, all under `key_prefix`:
/// `PREFIX cache:NAMESPACE:SHA256` for results, `PREFIX lease:NAMESPACE:SHA256` for single-flight
/// leases, `PREFIX ratelimit:NAME` for shared buckets.
///
/// A cache key's canonical text can be as large as a request; the SHA-256 of it keeps every key
/// 100-odd bytes whatever the client sent, and collisions out of any client's reach.
public struct RedisKeys: Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    public func cache(_ key: CacheKey) -> String { prefix + "cache:" + key.namespace + ":" + SHA256.hex(key.text.utf8) }
    public func lease(_ key: CacheKey) -> String { prefix + "lease:" + key.namespace + ":" + SHA256.hex(key.text.utf8) }
    public func bucket(_ name: String) -> String { prefix + "ratelimit:" + name }

    /// A SCAN pattern for every result, or one namespace's; the prefix's glob characters escaped.
    public func cachePattern(namespace: String?) -> String {
        Self.escapeGlob(prefix + "cache:" + (namespace.map { $0 + ":" } ?? "")) + "*"
    }

    static func escapeGlob(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\^-".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
