import ToolformerCore

/// The names imported tools get: `SERVER__tool`, within the rule `^[a-zA-Z0-9_-]{1,64}$` that
/// the OpenAI and Anthropic APIs enforce on tool names.
///
/// A name that already fits is kept as it is. Any other (a character outside the rule, or too
/// long once prefixed) has each bad character replaced by `_`, is cut to fit, and ends in `_` and
/// eight hex digits of a hash of the original name: stable across restarts, and distinct from
/// the kept names (a kept name that looks the same still differs from the original's hash).
enum MCPToolNames {
    static let maxLength = ToolName.maxLength
    static let separator = "__"

    static func isValid(_ name: String) -> Bool { ToolName.isValid(name) }

    static func isAllowed(_ byte: UInt8) -> Bool { ToolName.isAllowed(byte) }

    /// The names for `originals` (the server's order), all distinct and valid.
    static func map(server: String, originals: [String]) -> [String] {
        var taken: Set<String> = []
        var mapped: [String] = []
        // Kept names first, so that a mapped name can never take a name a kept one needs.
        var result = [String?](repeating: nil, count: originals.count)
        for (index, original) in originals.enumerated() {
            let plain = server + separator + original
            if isValid(plain) && !taken.contains(plain) {
                taken.insert(plain)
                result[index] = plain
            }
        }
        for (index, original) in originals.enumerated() where result[index] == nil {
            let cleaned = String(decoding: (server + separator + original).utf8.map { isAllowed($0) ? $0 : UInt8(ascii: "_") }, as: UTF8.self)
            var salt = 0
            while true {
                let hash = Fingerprint.fnv1a64((salt == 0 ? original : "\(original)#\(salt)").utf8)
                let suffix = "_" + String(String(UInt32(truncatingIfNeeded: hash ^ (hash >> 32)), radix: 16).leftPadded(to: 8))
                let candidate = String(cleaned.prefix(maxLength - suffix.count)) + suffix
                if !taken.contains(candidate) {
                    taken.insert(candidate)
                    result[index] = candidate
                    break
                }
                salt += 1
            }
        }
        for name in result { mapped.append(name ?? "") }
        return mapped
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
