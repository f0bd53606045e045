import Foundation
import Testing
import ToolformerCore

@Suite("Configuration: refusals")
struct ConfigErrorTests {
    @Test("an unknown key is refused with its full dotted key")
    func unknownKey() throws {
        let top = try #require(configError("[sever]\nsocket_mode = \"0660\""))
        #expect(top.code == .unknownKey)
        #expect(top.key == "sever")

        let server = try #require(configError("[server]\nmax_conections = 5"))
        #expect(server.code == .unknownKey)
        #expect(server.key == "server.max_conections")
        #expect(server.description.hasPrefix("test.toml: server.max_conections: unknown key"))
        #expect(server.reason.contains("max_connections"))

        let nested = try #require(configError("""
            [tools.weather]
            kind = "http"
            url = "https://example.com/"
            retry = { attempts = 2 }
            """))
        #expect(nested.key == "tools.weather.retry.attempts")

        let otherKind = try #require(configError("""
            [tools.weather]
            kind = "http"
            url = "https://example.com/"
            argv = ["/bin/true"]
            """))
        #expect(otherKind.key == "tools.weather.argv")
        #expect(otherKind.reason.contains("exec"))
    }

    @Test("a value of the wrong type is refused, saying what was expected and what came")
    func wrongType() throws {
        let error = try #require(configError("[server]\nmax_connections = \"many\""))
        #expect(error.code == .wrongType)
        #expect(error.key == "server.max_connections")
        #expect(error.reason == "expected an integer, got a string")
        #expect(error.description == "test.toml: server.max_connections: expected an integer, got a string")

        let element = try #require(configError("[server]\nallowed_uids = [1000, \"bob\"]"))
        #expect(element.key == "server.allowed_uids[1]")
        #expect(element.code == .wrongType)

        let table = try #require(configError("tools = 3"))
        #expect(table.key == "tools")
        #expect(table.reason == "expected a table, got an integer")

        let float = try #require(configError("[orchestrator]\nmax_turns = 2.5"))
        #expect(float.reason == "expected an integer, got a floating-point number")
    }

    @Test("numbers out of range are refused")
    func outOfRange() throws {
        let negative = try #require(configError("[server]\ndrain_timeout_ms = -1"))
        #expect(negative.code == .outOfRange)
        #expect(negative.reason.contains("negative"))
        let zero = try #require(configError("[server]\nmax_connections = 0"))
        #expect(zero.code == .outOfRange)
        let uid = try #require(configError("[server]\nadmin_uids = [-5]"))
        #expect(uid.key == "server.admin_uids[0]")
        let share = try #require(configError("[rate_limits.x]\nrequests_per_second = 1\nlocal_share = 1.5"))
        #expect(share.key == "rate_limits.x.local_share")
        let backoff = try #require(configError("[retry]\ninitial_backoff_ms = 500\nmax_backoff_ms = 100"))
        #expect(backoff.key == "retry.max_backoff_ms")
    }

    @Test("names outside ^[a-zA-Z0-9_-]{1,64}$ are refused", arguments: [
        ("tools", "\"bad name\"", "tools.\"bad name\""),
        ("tools", "\"dotted.name\"", "tools.\"dotted.name\""),
        ("providers", "\"é\"", "providers.\"é\""),
        ("rate_limits", String(repeating: "a", count: 65), "rate_limits." + String(repeating: "a", count: 65)),
        ("mcp_servers", "\"a/b\"", "mcp_servers.\"a/b\""),
    ])
    func badNames(section: String, name: String, key: String) throws {
        let error = try #require(configError("[\(section).\(name)]\nkind = \"builtin\""))
        #expect(error.code == .invalidName)
        #expect(error.key == key)
    }

    @Test("a TOML syntax error names the line")
    func syntaxError() throws {
        let error = try #require(configError("[server]\nmax_connections = 1024\nsocket_mode = = \"0660\"\n"))
        #expect(error.code == .syntax)
        #expect(error.key == "")
        #expect(error.reason.contains("line 3"))
        #expect(error.description.hasPrefix("test.toml: not valid TOML at line 3, column "))
    }

    @Test("a rate_limit naming an undeclared bucket is refused")
    func undeclaredRateLimit() throws {
        let error = try #require(configError("""
            [rate_limits.openai]
            requests_per_minute = 500

            [tools.echo]
            kind = "builtin"
            rate_limit = "weather"
            """))
        #expect(error.code == .undeclaredReference)
        #expect(error.key == "tools.echo.rate_limit")
        #expect(error.reason.contains("openai"))

        let provider = try #require(configError("[providers.mock]\nkind = \"mock\"\nrate_limit = \"nope\""))
        #expect(provider.key == "providers.mock.rate_limit")
    }

    @Test("providers named by the orchestrator must be declared")
    func undeclaredProviders() throws {
        // Declaring any provider turns off the implicit mock, so the default "mock" dangles.
        let implicit = try #require(configError("[providers.openai]\nkind = \"openai\""))
        #expect(implicit.key == "orchestrator.default_provider")
        #expect(implicit.code == .undeclaredReference)

        let fallback = try #require(configError("[orchestrator]\nfallback_providers = [\"mock\", \"claude\"]"))
        #expect(fallback.key == "orchestrator.fallback_providers[0]")
        let missing = try #require(configError("[orchestrator]\nfallback_providers = [\"claude\"]"))
        #expect(missing.key == "orchestrator.fallback_providers[0]")
        #expect(missing.code == .undeclaredReference)
    }

    @Test("api_key_env and api_key_file together are refused")
    func conflictingKeySources() throws {
        let error = try #require(configError("""
            [providers.openai]
            kind = "openai"
            api_key_env = "OPENAI_API_KEY"
            api_key_file = "/etc/toolformer/openai.key"
            """))
        #expect(error.code == .conflictingKeys)
        #expect(error.key == "providers.openai.api_key_file")
        #expect(error.reason.contains("api_key_env"))

        let cluster = try #require(configError("[cluster]\npassword_file = \"/etc/redis.pw\"\ncredential = \"redis\""))
        #expect(cluster.key == "cluster.credential")
    }

    @Test("rate limits take exactly one of requests_per_second and requests_per_minute")
    func rateLimitRates() throws {
        let neither = try #require(configError("[rate_limits.x]\nburst = 5"))
        #expect(neither.code == .missingKey)
        #expect(neither.key == "rate_limits.x")
        let both = try #require(configError("[rate_limits.x]\nrequests_per_second = 1\nrequests_per_minute = 60"))
        #expect(both.code == .conflictingKeys)
        let zero = try #require(configError("[rate_limits.x]\nrequests_per_second = 0"))
        #expect(zero.key == "rate_limits.x.requests_per_second")
        let shared = try #require(configError("[rate_limits.x]\nrequests_per_second = 1\nshared = true"))
        #expect(shared.key == "rate_limits.x.shared")
        #expect(shared.reason.contains("[cluster]"))
    }

    @Test("tool kinds check their own keys")
    func toolKinds() throws {
        let noKind = try #require(configError("[tools.x]\ndescription = \"?\""))
        #expect(noKind.code == .missingKey)
        #expect(noKind.key == "tools.x.kind")

        let notABuiltin = try #require(configError("[tools.shout]\nkind = \"builtin\""))
        #expect(notABuiltin.key == "tools.shout.builtin")
        let badBuiltin = try #require(configError("[tools.shout]\nkind = \"builtin\"\nbuiltin = \"shout\""))
        #expect(badBuiltin.key == "tools.shout.builtin")

        let relative = try #require(configError("[tools.x]\nkind = \"exec\"\nargv = [\"uname\", \"-a\"]"))
        #expect(relative.key == "tools.x.argv[0]")
        let empty = try #require(configError("[tools.x]\nkind = \"exec\"\nargv = []"))
        #expect(empty.key == "tools.x.argv")
        let noArgv = try #require(configError("[tools.x]\nkind = \"exec\""))
        #expect(noArgv.code == .missingKey)
        let exitCode = try #require(configError("[tools.x]\nkind = \"exec\"\nargv = [\"/bin/true\"]\nretry_exit_codes = [0]"))
        #expect(exitCode.key == "tools.x.retry_exit_codes[0]")

        let ftp = try #require(configError("[tools.x]\nkind = \"http\"\nurl = \"ftp://example.com/\""))
        #expect(ftp.key == "tools.x.url")
        let method = try #require(configError("[tools.x]\nkind = \"http\"\nurl = \"https://e.com/\"\nmethod = \"FETCH\""))
        #expect(method.key == "tools.x.method")
        let header = try #require(configError("[tools.x]\nkind = \"http\"\nurl = \"https://e.com/\"\nheaders = { \"Bad Header\" = \"v\" }"))
        #expect(header.key == "tools.x.headers.\"Bad Header\"")

        let hedge = try #require(configError("[tools.echo]\nkind = \"builtin\"\nhedge_after_ms = 100"))
        #expect(hedge.key == "tools.echo.hedge_after_ms")
    }

    @Test("input_schema must hold a JSON object schema", arguments: [
        "not json", "[1,2]", "\"object\"", #"{"type":"string"}"#, #"{"type":"object""#,
    ])
    func badInputSchema(schema: String) throws {
        let error = try #require(configError("[tools.echo]\nkind = \"builtin\"\ninput_schema = '\(schema)'"))
        #expect(error.key == "tools.echo.input_schema")
        #expect(error.code == .invalidValue)
    }

    @Test("an MCP server takes command or url, and only the keys of the one it has")
    func mcpServers() throws {
        let neither = try #require(configError("[mcp_servers.x]\ntimeout_ms = 5"))
        #expect(neither.code == .missingKey)
        let both = try #require(configError("[mcp_servers.x]\ncommand = [\"/usr/bin/x\"]\nurl = \"https://e.com/mcp\""))
        #expect(both.code == .conflictingKeys)
        let headers = try #require(configError("[mcp_servers.x]\ncommand = [\"/usr/bin/x\"]\nheaders = { A = \"b\" }"))
        #expect(headers.key == "mcp_servers.x.headers")
        #expect(headers.code == .unknownKey)
        let remote = try ToolformerConfig.parse(toml: "[mcp_servers.x]\nurl = \"https://e.com/mcp\"\ncache_ttl_s = 5", file: "t")
        #expect(remote.mcpServers["x"]?.transport == .remote(.init(url: "https://e.com/mcp")))
        #expect(remote.mcpServers["x"]?.cacheTTLSeconds == 5)
    }

    @Test("no error text ever holds a secret, from the environment or pasted into the file")
    func secretsNeverAppear() throws {
        let secret = "sk-test-Zq81vXw0Lk3m"
        let variable = "TOOLFORMER_TEST_SECRET_\(UInt32.random(in: 0...UInt32.max))"
        setenv(variable, secret, 1)
        defer { unsetenv(variable) }

        let provider = "[providers.openai]\nkind = \"openai\"\n"
        let files = [
            // The classic mistake: the key itself where its variable's name belongs.
            provider + "api_key_env = \"\(secret)\"",
            provider + "api_key_env = \"\(variable)\"\napi_key_file = \"/etc/key\"",
            provider + "api_key_env = \"\(variable)\"\napi_key = \"\(secret)\"",
            provider + "api_key_env = [\"\(secret)\"]",
            provider + "api_key_file = \"\(secret)\"",
            provider + "credential = \"\(secret)/x\"",
            provider + "headers = { Authorization = \"Bearer \(secret)\\n\" }",
            provider + "base_url = \"https://user:\(secret)@host/ v1\"",
            provider + "rate_limit = \"\(secret)\"",
            provider + "kind = \"\(secret)\"",
            "[orchestrator]\ndefault_provider = \"\(secret)\"",
            "[orchestrator]\nfallback_providers = [\"\(secret)\"]",
            "[cluster]\nredis_url = \"redis://:\(secret)@127.0.0.1:6379/0 \"",
            "[cluster]\nredis_url = \"http://:\(secret)@127.0.0.1\"",
            "[log]\nlevel = \"\(secret)\"",
            "[server]\nsocket_mode = \"\(secret)\"",
            "[tools.x]\nkind = \"http\"\nurl = \"https://e.com/?key=\(secret)\"\nmethod = \"\(secret)\"",
            "[tools.x]\nkind = \"\(secret)\"",
            "[tools.x]\nkind = \"builtin\"\nbuiltin = \"\(secret)\"",
            "[tools.x]\nkind = \"exec\"\nargv = [\"/bin/x\"]\nenv = { \"\(variable)\" = \"\(secret)\", \"bad-name\" = \"\(secret)\" }",
            "[tools.x]\nkind = \"exec\"\nargv = [\"\(secret)\"]",
            "[tools.x]\nkind = \"exec\"\nargv = [\"/bin/x\"]\ncwd = \"\(secret)\"",
            "[tools.x]\nkind = \"builtin\"\ninput_schema = '{\"key\": \"\(secret)\"'",
            provider + "api_key_env = \"\(secret)",
            provider + "api_key_env = \(secret)",
            "secret = \"\(secret)\"\n[[[",
        ]
        for text in files {
            let error = try #require(configError(text), "\(text) loaded")
            #expect(!error.description.contains(secret), "\(error)")
            #expect(!error.description.contains("Zq81vXw0Lk3m"), "\(error)")
        }
    }
}
