import Logging
import Testing
import ToolformerCore

@Suite("Configuration: values and defaults")
struct ConfigTests {
    @Test("an empty file gives every default of CONFIG.md")
    func emptyFileGivesDefaults() throws {
        let config = try ToolformerConfig.parse(toml: "", file: "empty.toml")
        #expect(config == ToolformerConfig.default)

        #expect(config.server.socket == nil)
        #expect(config.server.socketMode == 0o660)
        #expect(config.server.socketGroup == nil)
        #expect(config.server.maxConnections == 1024)
        #expect(config.server.maxLineBytes == 4_194_304)
        #expect(config.server.maxInflightPerConnection == 128)
        #expect(config.server.allowedUids.isEmpty && config.server.allowedGroups.isEmpty)
        #expect(config.server.adminUids.isEmpty && config.server.adminGroups.isEmpty)
        #expect(config.server.drainTimeoutMs == 20_000)
        #expect(config.orchestrator.maxConcurrency == 512)
        #expect(config.orchestrator.defaultToolTimeoutMs == 30_000)
        #expect(config.orchestrator.maxRequestMs == 300_000)
        #expect(config.orchestrator.defaultProvider == "mock")
        #expect(config.orchestrator.fallbackProviders.isEmpty)
        #expect(config.orchestrator.maxTurns == 8)
        #expect(config.retry.maxAttempts == 3)
        #expect(config.retry.initialBackoffMs == 200)
        #expect(config.retry.maxBackoffMs == 10_000)
        #expect(config.cache.maxEntries == 100_000)
        #expect(config.cache.maxBytes == 268_435_456)
        #expect(config.cache.defaultTTLSeconds == 0)
        #expect(config.cache.compressMinBytes == 8192)
        #expect(config.cache.directory == nil)
        #expect(config.http.maxConnectionsPerHost == 16)
        #expect(config.http.idleTimeoutMs == 60_000)
        #expect(config.http.connectTimeoutMs == 5000)
        #expect(config.metrics.listen == nil)
        #expect(config.log.level == .info)
        #expect(config.cluster == nil)
        #expect(config.rateLimits.isEmpty)
        #expect(config.tools.isEmpty)
        #expect(config.mcpServers.isEmpty)
        #expect(config.providers.keys.sorted() == ["mock"])
        #expect(config.providers["mock"]?.kind == .mock)
    }

    @Test("the shipped file loads, with the defaults written out and only offline things enabled")
    func shippedFileLoads() throws {
        let config = try ToolformerConfig.load(path: shippedConfigPath)
        let defaults = ToolformerConfig.default
        // The one deliberate difference: members of the socket unit's group may connect.
        var expectedServer = defaults.server
        expectedServer.allowedGroups = ["toolformer"]
        #expect(config.server == expectedServer)
        #expect(config.orchestrator == defaults.orchestrator)
        #expect(config.retry == defaults.retry)
        #expect(config.cache == defaults.cache)
        #expect(config.http == defaults.http)
        #expect(config.metrics == defaults.metrics)
        #expect(config.log == defaults.log)
        #expect(config.cluster == nil)
        #expect(config.rateLimits.isEmpty)
        #expect(config.providers.keys.sorted() == ["mock"])
        #expect(config.providers["mock"]?.apiKey == nil)

        #expect(config.tools["echo"]?.kind == .builtin(.echo))
        #expect(config.tools["sleep"]?.kind == .builtin(.sleep))
        #expect(config.tools["now"]?.kind == .builtin(.now))
        #expect(config.tools["http_get"]?.kind == .builtin(.httpGet))
        let uname = try #require(config.tools["uname"])
        guard case .exec(let exec) = uname.kind else {
            Issue.record("uname is not an exec tool")
            return
        }
        #expect(exec.argv == ["/usr/bin/uname", "-a"])
        #expect(uname.cacheTTLSeconds == 60)
        #expect(config.tools.values.allSatisfy { $0.rateLimit == nil })
    }

    @Test("globals and entries read what the file says")
    func valuesAreRead() throws {
        let config = try ToolformerConfig.parse(
            toml: """
                [server]
                socket = "/tmp/t.sock"
                socket_mode = "0600"
                socket_group = "toolformer"
                allowed_uids = [1000, 1001]
                admin_groups = ["wheel"]

                [orchestrator]
                default_provider = "openai"
                fallback_providers = ["mock"]

                [retry]
                max_attempts = 5

                [cache]
                default_ttl_s = 30
                dir = "/var/cache/toolformer"

                [metrics]
                listen = "[::1]:9464"

                [log]
                level = "debug"

                [rate_limits.openai]
                requests_per_minute = 600
                tokens_per_minute = 200000

                [rate_limits.team_api]
                requests_per_second = 10
                shared = true
                local_share = 1

                [cluster]
                credential = "redis"

                [providers.mock]
                kind = "mock"

                [providers.openai]
                kind = "openai"
                base_url = "http://127.0.0.1:11434/v1/"
                api_key_env = "OPENAI_API_KEY"
                rate_limit = "openai"
                retry = { max_attempts = 2 }

                [tools.weather]
                kind = "http"
                url = "https://wttr.in/{city}?format=j1"
                method = "get"
                headers = { "Accept" = "application/json" }
                input_schema = '{"type":"object","properties":{"city":{"type":"string"}}}'
                rate_limit = "team_api"
                idempotent = true
                hedge_after_ms = 800
                retry = { initial_backoff_ms = 50 }

                [tools.shout]
                kind = "builtin"
                builtin = "echo"

                [mcp_servers.files]
                command = ["/usr/bin/mcp-files", "--root", "/srv"]
                env = { HOME = "/srv" }
                """,
            file: "full.toml"
        )
        #expect(config.server.socket == "/tmp/t.sock")
        #expect(config.server.socketMode == 0o600)
        #expect(config.server.socketGroup == "toolformer")
        #expect(config.server.allowedUids == [1000, 1001])
        #expect(config.server.adminGroups == ["wheel"])
        #expect(config.metrics.listen == ToolformerConfig.Endpoint(host: "::1", port: 9464))
        #expect(config.log.level == .debug)
        #expect(config.cache.directory == "/var/cache/toolformer")
        #expect(config.cluster?.password == .systemdCredential("redis"))
        #expect(config.cluster?.redisURL == "redis://127.0.0.1:6379/0")

        let openaiLimit = try #require(config.rateLimits["openai"])
        #expect(openaiLimit.rate == .perMinute(600))
        #expect(openaiLimit.burst == 10)
        #expect(openaiLimit.tokensPerMinute == 200_000)
        #expect(openaiLimit.maxWaitMs == 30_000)
        #expect(config.rateLimits["team_api"]?.localShare == 1.0)

        let openai = try #require(config.providers["openai"])
        #expect(openai.baseURL == "http://127.0.0.1:11434/v1")
        #expect(openai.model == "gpt-4o-mini")
        #expect(openai.apiKey == .environment("OPENAI_API_KEY"))
        #expect(openai.retry.maxAttempts == 2)
        #expect(openai.retry.initialBackoffMs == 200)

        let weather = try #require(config.tools["weather"])
        #expect(weather.kind == .http({
            var http = ToolConfig.HTTP(url: "https://wttr.in/{city}?format=j1")
            http.headers = ["Accept": "application/json"]
            return http
        }()))
        #expect(weather.inputSchema == #"{"type":"object","properties":{"city":{"type":"string"}}}"#)
        #expect(weather.timeoutMs == 30_000)
        #expect(weather.cacheTTLSeconds == 30)
        #expect(weather.retry.maxAttempts == 5)
        #expect(weather.retry.initialBackoffMs == 50)
        #expect(weather.hedgeAfterMs == 800)
        #expect(config.tools["shout"]?.kind == .builtin(.echo))

        let files = try #require(config.mcpServers["files"])
        guard case .stdio(let stdio) = files.transport else {
            Issue.record("files is not a stdio server")
            return
        }
        #expect(stdio.command.count == 3)
        #expect(stdio.environment == ["HOME": "/srv"])
    }

    @Test("socket_mode is an octal string", arguments: [
        ("0660", UInt32(0o660)), ("660", 0o660), ("0600", 0o600), ("0777", 0o777), ("0000", 0),
    ])
    func octalSocketMode(text: String, mode: UInt32) throws {
        let config = try ToolformerConfig.parse(toml: "[server]\nsocket_mode = \"\(text)\"", file: "t.toml")
        #expect(config.server.socketMode == mode)
    }

    @Test("a socket_mode that is not octal, or too wide, is refused", arguments: [
        "999", "0o660", "66", "01777", "rw-rw----", "", "0668",
    ])
    func badSocketMode(text: String) throws {
        let error = try #require(configError("[server]\nsocket_mode = \"\(text)\""))
        #expect(error.code == .invalidValue)
        #expect(error.key == "server.socket_mode")
    }

    @Test("a socket_mode written as an integer is refused, since 660 would not mean 0660")
    func integerSocketMode() throws {
        let error = try #require(configError("[server]\nsocket_mode = 0o660"))
        #expect(error.code == .wrongType)
        #expect(error.reason.contains("\"0660\""))
    }

    @Test("metrics.listen takes host:port only", arguments: [
        "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":9464", "::1:9464", "[::1]", "localhost:http",
    ])
    func badListen(text: String) throws {
        let error = try #require(configError("[metrics]\nlisten = \"\(text)\""))
        #expect(error.key == "metrics.listen")
    }

    @Test("log.level takes swift-log's levels")
    func logLevels() throws {
        for level in Logger.Level.allCases {
            let config = try ToolformerConfig.parse(toml: "[log]\nlevel = \"\(level.rawValue)\"", file: "t.toml")
            #expect(config.log.level == level)
        }
        let error = try #require(configError("[log]\nlevel = \"verbose\""))
        #expect(error.key == "log.level")
        #expect(error.code == .invalidValue)
    }
}
