public import NIOCore
public import ToolformerCore

#if canImport(Glibc)
import Glibc
#endif

/// From `[cluster]` to a client: the password found where the file says, the URL parsed, and a
/// first connection that tells a wrong password or database (refuse to start, refuse a reload)
/// from a Redis that is merely down (start degraded).
public enum ClusterSetup {
    /// Password files are a line long; anything larger is a mistake.
    static let maxPasswordBytes = 4096

    /// The endpoint with its password. Errors name `file` and the key, never the password.
    public static func endpoint(
        _ config: ToolformerConfig.Cluster, file: String, environment: [String: String]
    ) throws(ConfigError) -> RedisEndpoint {
        var endpoint: RedisEndpoint
        do throws(RedisURLError) {
            endpoint = try RedisEndpoint(url: config.redisURL)
        } catch {
            throw ConfigError(.invalidValue, file: file, key: "cluster.redis_url", reason: error.reason)
        }
        switch config.password {
        case nil:
            break
        case .file(let path)?:
            endpoint.password = try readPassword(path, file: file, key: "cluster.password_file", source: "the file \(path)")
        case .systemdCredential(let name)?:
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw ConfigError(
                    .invalidValue, file: file, key: "cluster.credential",
                    reason: "names the systemd credential '\(name)', but CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit provides it)")
            }
            let path = (directory.hasSuffix("/") ? directory : directory + "/") + name
            endpoint.password = try readPassword(path, file: file, key: "cluster.credential", source: "the systemd credential '\(name)'")
        case .environment(let variable)?:
            guard let value = environment[variable] else {
                throw ConfigError(.invalidValue, file: file, key: "cluster", reason: "the password variable \(variable) is not set")
            }
            endpoint.password = value
        }
        return endpoint
    }

    public static func clientSettings(_ config: ToolformerConfig.Cluster) -> RedisClient.Settings {
        RedisClient.Settings(
            poolSize: config.poolSize, connectTimeoutMs: config.connectTimeoutMs, commandTimeoutMs: config.commandTimeoutMs,
            replyLimits: RESPParser.Limits(maxBulkBytes: config.maxValueBytes + (64 << 10)))
    }

    /// The key a login failure belongs to: where the password came from.
    public static func passwordKey(_ config: ToolformerConfig.Cluster) -> String {
        switch config.password {
        case .file?: "cluster.password_file"
        case .systemdCredential?: "cluster.credential"
        default: "cluster.redis_url"
        }
    }

    /// Connects once. Returns nil when Redis took the login, the reason when it could not be
    /// reached (the daemon then starts degraded); throws when it refused the password or database.
    public static func check(
        _ config: ToolformerConfig.Cluster, endpoint: RedisEndpoint, file: String, eventLoopGroup: any EventLoopGroup
    ) async throws(ConfigError) -> String? {
        do throws(RedisError) {
            try await RedisClient.check(endpoint: endpoint, settings: clientSettings(config), eventLoopGroup: eventLoopGroup)
            return nil
        } catch where error.isConfiguration {
            let key = error.isDatabase ? "cluster.redis_url" : passwordKey(config)
            throw ConfigError(.invalidValue, file: file, key: key, reason: error.description)
        } catch {
            return error.description
        }
    }

    static func readPassword(_ path: String, file: String, key: String, source: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such file" : errno == EACCES ? "permission denied" : "errno \(errno)"
            throw ConfigError(.invalidValue, file: file, key: key, reason: "cannot read the Redis password from \(source) (\(reason))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > maxPasswordBytes {
                throw ConfigError(.invalidValue, file: file, key: key, reason: "\(source) is larger than \(maxPasswordBytes) bytes, not a password")
            }
        }
        while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty else {
            throw ConfigError(.invalidValue, file: file, key: key, reason: "\(source) holds no password")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
