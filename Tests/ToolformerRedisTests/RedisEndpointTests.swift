import Testing
import ToolformerCore

@Suite("redis_url")
struct RedisEndpointTests {
    @Test func forms() throws {
        #expect(try RedisEndpoint(url: "redis://127.0.0.1:6379/0") == RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6379)))
        #expect(try RedisEndpoint(url: "redis://cache.internal") == RedisEndpoint(address: .tcp(host: "cache.internal", port: 6379)))
        #expect(try RedisEndpoint(url: "redis://:s%40cret@h:7000/3")
            == RedisEndpoint(address: .tcp(host: "h", port: 7000), password: "s@cret", database: 3))
        #expect(try RedisEndpoint(url: "redis://agent:pw@[::1]:6380/1")
            == RedisEndpoint(address: .tcp(host: "::1", port: 6380), username: "agent", password: "pw", database: 1))
        #expect(try RedisEndpoint(url: "unix:///run/redis/redis.sock?db=2")
            == RedisEndpoint(address: .unix(path: "/run/redis/redis.sock"), database: 2))
    }

    @Test func refusalsNeverQuoteTheURL() {
        for url in [
            "http://h", "rediss://u:topsecret@h", "redis://u:topsecret@h:0", "redis://u:topsecret@h:x/0",
            "redis://u:topsecret@h/-1", "redis://u:topsecret@", "unix://relative.sock", "unix:///s?topsecret=1",
            "redis://u:top%zzsecret@h",
        ] {
            do {
                _ = try RedisEndpoint(url: url)
                Issue.record("accepted \(url)")
            } catch {
                #expect(!error.reason.contains("topsecret"), "\(error.reason)")
                #expect(!error.reason.isEmpty)
            }
        }
    }

    @Test func descriptionHidesThePassword() throws {
        let endpoint = try RedisEndpoint(url: "redis://agent:hunter2@h:1/4")
        #expect(endpoint.description == "redis://h:1/4")
        #expect(!"\(endpoint)".contains("hunter2"))
    }

    @Test func configReadsAndChecksCluster() throws {
        let config = try ToolformerConfig.parse(toml: """
            [cluster]
            redis_url = "unix:///run/redis.sock?db=1"
            key_prefix = "team:"
            pool_size = 2
            max_value_bytes = 65536
            [rate_limits.api]
            requests_per_second = 10
            shared = true
            local_share = 0.5
            """, file: "t.toml")
        #expect(config.cluster?.poolSize == 2)
        #expect(config.cluster?.maxValueBytes == 65536)
        #expect(config.rateLimits["api"]?.shared == true)

        for (toml, key) in [
            ("[cluster]\nredis_url = \"rediss://h\"", "cluster.redis_url"),
            ("[cluster]\nredis_url = \"redis://:pw@h\"\npassword_file = \"/etc/pw\"", "cluster.redis_url"),
            ("[cluster]\npassword_file = \"relative\"", "cluster.password_file"),
            ("[cluster]\ncredential = \"a/b\"", "cluster.credential"),
            ("[cluster]\npool_size = 0", "cluster.pool_size"),
            ("[rate_limits.x]\nrequests_per_second = 1\nshared = true", "rate_limits.x.shared"),
        ] {
            #expect(throws: ConfigError.self, "\(toml)") { try ToolformerConfig.parse(toml: toml, file: "t.toml") }
            do {
                _ = try ToolformerConfig.parse(toml: toml, file: "t.toml")
            } catch {
                #expect(error.key == key, "\(toml): \(error)")
                #expect(!error.description.contains("pw@"))
            }
        }
    }
}
