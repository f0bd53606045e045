/// Where Redis is and how to log in, from `redis_url` and the password: `redis://[user:pass@]host[:port][/db]`
/// or `unix:///path[?db=N]`.
///
/// The password is held here only; `description` never shows it.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Address: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var address: Address
    public var username: String?
    public var password: String?
    public var database: Int

    public init(address: Address, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `url`; the error is a reason that never quotes the URL (it may hold a password).
    public init(url: String) throws(RedisURLError) {
        var database = 0
        if url.hasPrefix("unix://") {
            var rest = Substring(url.dropFirst("unix://".count))
            if let query = rest.firstIndex(of: "?") {
                let parameters = rest[rest.index(after: query)...]
                rest = rest[..<query]
                for pair in parameters.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[0] == "db" else { throw .init("a unix:// URL takes only ?db=N") }
                    guard let value = Int(parts[1]), value >= 0 else { throw .init("db must be a number of at least 0") }
                    database = value
                }
            }
            guard rest.hasPrefix("/"), rest.count > 1 else { throw .init("unix:// needs an absolute socket path, as in unix:///run/redis/redis.sock") }
            guard rest.utf8.count < 108 else { throw .init("the unix socket path is longer than 107 bytes") }
            self.init(address: .unix(path: String(rest)), database: database)
            return
        }
        if url.hasPrefix("rediss://") {
            throw .init("rediss:// (TLS) is not supported; use redis:// on a trusted network, a unix:// socket, or a TLS tunnel")
        }
        guard url.hasPrefix("redis://") else { throw .init("must be a redis:// or unix:// URL") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = userinfo[..<colon]
                username = user.isEmpty ? nil : try Self.percentDecoded(user)
                password = try Self.percentDecoded(userinfo[userinfo.index(after: colon)...])
            } else if !userinfo.isEmpty {
                username = try Self.percentDecoded(userinfo)
            }
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let value = Int(path), value >= 0 else { throw .init("the database after the last / must be a number of at least 0") }
                database = value
            }
        }
        var host: Substring
        var port = 6379
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .init("an IPv6 host needs its closing ]") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { throw .init("the port must be a number") }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]) else { throw .init("the port must be a number") }
            port = value
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .init("needs a host, as in redis://127.0.0.1:6379/0") }
        guard (1...65535).contains(port) else { throw .init("the port must be 1-65535") }
        self.init(address: .tcp(host: String(host), port: port), username: username, password: password, database: database)
    }

    /// What logs and status may show: the address and database, never a user's password.
    public var description: String {
        switch address {
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : host
            return "redis://\(shown):\(port)/\(database)"
        case .unix(let path):
            return "unix://\(path)?db=\(database)"
        }
    }

    static func percentDecoded(_ text: Substring) throws(RedisURLError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { throw .init("a % in the user or password must be followed by two hex digits") }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why a `redis_url` cannot be used; never quotes the URL.
public struct RedisURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
