import Logging
import NIOCore
import Synchronization
import ToolformerCore
import ToolformerRedis

/// What a reload does with `[cluster]`: a new password (file), URL or timeouts are checked against
/// Redis before the reload goes on, and refused with the key at fault when Redis refuses them.
/// Adding or removing the section, or changing the key prefix, needs a restart: the stores that
/// use Redis are chosen when the daemon starts.
final class ClusterReload: Sendable {
    let cluster: RedisCluster?
    private let running: Mutex<(config: ToolformerConfig.Cluster?, endpoint: RedisEndpoint?)>
    let file: String
    let environment: [String: String]
    let eventLoops: any EventLoopGroup
    let logger: Logger

    init(
        cluster: RedisCluster?, config: ToolformerConfig.Cluster?, file: String, environment: [String: String],
        eventLoops: any EventLoopGroup, logger: Logger
    ) {
        self.cluster = cluster
        let endpoint = config.flatMap { try? ClusterSetup.endpoint($0, file: file, environment: environment) }
        running = Mutex((config, endpoint))
        self.file = file
        self.environment = environment
        self.eventLoops = eventLoops
        self.logger = logger
    }

    func check(_ new: ToolformerConfig) async throws(ConfigError) -> (@Sendable () -> Void)? {
        let (current, currentEndpoint) = running.withLock { ($0.config, $0.endpoint) }
        guard let cluster, let current else {
            if new.cluster != nil {
                throw ConfigError(.invalidValue, file: file, key: "cluster", reason: "adding [cluster] needs a restart of the daemon")
            }
            return nil
        }
        guard let next = new.cluster else {
            throw ConfigError(.invalidValue, file: file, key: "cluster", reason: "removing [cluster] needs a restart of the daemon")
        }
        if next.keyPrefix != current.keyPrefix {
            throw ConfigError(.invalidValue, file: file, key: "cluster.key_prefix", reason: "a new key_prefix needs a restart of the daemon")
        }
        if next.maxValueBytes != current.maxValueBytes {
            throw ConfigError(.invalidValue, file: file, key: "cluster.max_value_bytes", reason: "a new max_value_bytes needs a restart of the daemon")
        }
        // Read the password again even when the keys are the same: the file may hold a new one.
        let endpoint = try ClusterSetup.endpoint(next, file: file, environment: environment)
        guard endpoint != currentEndpoint || ClusterSetup.clientSettings(next) != ClusterSetup.clientSettings(current) else { return nil }
        let unreachable = try await ClusterSetup.check(next, endpoint: endpoint, file: file, eventLoopGroup: eventLoops)
        let client = RedisClient(endpoint: endpoint, settings: ClusterSetup.clientSettings(next), eventLoopGroup: eventLoops)
        let logger = logger
        return { [self] in
            running.withLock { $0 = (next, endpoint) }
            logger.info("cluster: new Redis settings", metadata: ["cluster.redis": "\(endpoint)"])
            cluster.replace(client: client, reachable: unreachable == nil, reason: unreachable)
        }
    }
}
