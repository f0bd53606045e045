public import ToolformerProtocol

/// What identifies a cached result: its namespace (a tool, or an LLM provider and model), a
/// fingerprint of the definition that produced it, and the SHA-256 of the canonical request.
///
/// A changed definition after a reload changes the fingerprint, so old results are never served
/// for it. `text` is the whole key: namespace, fingerprint and digest, so its size does not grow
/// with the arguments (an `echo` of 1 KiB, or an LLM request with its whole conversation, would
/// otherwise be kept twice, once as the key), and a client cannot choose a collision with another
/// client's request. `hash` is a 64-bit FNV-1a of `text`, for file names and shards, never trusted
/// alone (tiers compare `text`).
public struct CacheKey: Sendable, Hashable, CustomStringConvertible {
    /// `tool:NAME` or `llm:PROVIDER`; `cache/clear` with a tool name removes that namespace.
    public let namespace: String
    public let text: String
    public let hash: UInt64

    public init(namespace: String, fingerprint: String, request: JSONValue) {
        self.namespace = namespace
        var text = namespace
        text += "\u{1F}"
        text += fingerprint
        text += "\u{1F}"
        text += SHA256.hex(CanonicalJSON.bytes(request))
        self.text = text
        hash = Fingerprint.fnv1a64(text.utf8)
    }

    public static func tool(_ name: String, fingerprint: String, arguments: JSONObject) -> CacheKey {
        CacheKey(namespace: "tool:" + name, fingerprint: fingerprint, request: .object(arguments))
    }

    public static func == (lhs: CacheKey, rhs: CacheKey) -> Bool { lhs.hash == rhs.hash && lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    public var description: String { "\(namespace)#\(String(hash, radix: 16))" }
}

/// Stable fingerprints (the same on every run and host, unlike `Hasher`).
public enum Fingerprint {
    public static func fnv1a64(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    public static func hex(_ text: String) -> String {
        let value = fnv1a64(text.utf8)
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
