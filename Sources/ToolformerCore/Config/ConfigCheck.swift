import Foundation

/// Checks of single values. Each returns why a value is refused, or nil; no reason quotes the
/// value: the key names it, and any string in the file might be a pasted secret.
enum ConfigCheck {
    /// Tool, provider, rate limit and MCP server names: `^[a-zA-Z0-9_-]{1,64}$`. They become
    /// metric labels, log fields and parts of cache keys, so they stay plain.
    static func isName(_ name: String) -> Bool {
        ToolName.isValid(name)
    }

    static let nameRule = "a name must be 1 to 64 letters, digits, '_' or '-'"

    static func absolutePath(_ path: String) -> String? {
        if path.isEmpty { return "must not be empty" }
        return path.hasPrefix("/") ? nil : "must be an absolute path"
    }

    /// `sun_path` holds 108 bytes with its NUL; a longer path cannot be bound at all.
    static func socketPath(_ path: String) -> String? {
        if let reason = Self.absolutePath(path) { return reason }
        return path.utf8.count <= 107 ? nil : "is longer than the 107 bytes a Unix socket path may have"
    }

    /// An `http://` or `https://` URL with a host and no whitespace or control characters.
    static func httpURL(_ url: String) -> String? {
        let reason = "must be an http:// or https:// URL"
        let rest: Substring
        if url.hasPrefix("https://") {
            rest = url.dropFirst("https://".count)
        } else if url.hasPrefix("http://") {
            rest = url.dropFirst("http://".count)
        } else {
            return reason
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.isEmpty { return reason + " with a host" }
        if url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            return reason + " without spaces or control characters"
        }
        return nil
    }

    /// `redis://[user:pass@]host[:port][/db]` or `unix:///path[?db=N]`. May hold a password:
    /// never quoted.
    static func redisURL(_ url: String) -> String? {
        if url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            return "must be a redis:// or unix:// URL without spaces or control characters"
        }
        do throws(RedisURLError) {
            _ = try RedisEndpoint(url: url)
            return nil
        } catch {
            return error.reason
        }
    }

    /// POSIX environment variable names. The classic mistake is pasting the key itself here.
    static func environmentName(_ name: String) -> String? {
        guard let first = name.utf8.first,
            first != UInt8(ascii: "-"), !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
            name.utf8.allSatisfy({ ConfigKeyPath.isBareKeyByte($0) && $0 != UInt8(ascii: "-") })
        else {
            return "must be the name of an environment variable (letters, digits and '_', not starting with a digit)"
        }
        return nil
    }

    /// systemd credential names become a file name in `$CREDENTIALS_DIRECTORY`.
    static func credentialName(_ name: String) -> String? {
        if name.isEmpty || name == "." || name == ".." || name.contains("/") || name.utf8.count > 255 {
            return "must be a systemd credential name (as in LoadCredential=), without '/'"
        }
        return nil
    }

    /// RFC 9110 token characters.
    static func headerName(_ name: String) -> String? {
        let extra = Set("!#$%&'*+-.^_`|~".utf8)
        let ok = !name.isEmpty && name.utf8.allSatisfy { ConfigKeyPath.isBareKeyByte($0) || extra.contains($0) }
        return ok ? nil : "is not a valid HTTP header name"
    }

    /// A line break in a header value would let the file inject headers or a second request.
    static func headerValue(_ value: String) -> String? {
        value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 } ? "must not contain line breaks" : nil
    }

    /// `"0660"` -> 0o660: three or four octal digits, at most 0777 (no setuid bits on a socket).
    static func octalMode(_ text: String) -> UInt32? {
        guard (3...4).contains(text.utf8.count),
            text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }),
            let mode = UInt32(text, radix: 8), mode <= 0o777
        else { return nil }
        return mode
    }

    /// `host:port` or `[v6]:port`.
    static func endpoint(_ text: String) -> ToolformerConfig.Endpoint? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
            guard host.contains(":") else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace),
            portText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return ToolformerConfig.Endpoint(host: String(host), port: port)
    }

    /// MCP wants an object schema, and arguments are always an object. Foundation is fine here:
    /// this runs once per load, not per request.
    static func inputSchema(_ json: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
            let schema = object as? [String: Any]
        else {
            return "must be a JSON object (a JSON Schema), written as a string"
        }
        if let type = schema["type"], (type as? String) != "object" {
            return "must be a JSON Schema whose \"type\" is \"object\": tool arguments are always an object"
        }
        return nil
    }
}
