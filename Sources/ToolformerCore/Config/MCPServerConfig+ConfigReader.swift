extension MCPServerConfig {
    /// `[mcp_servers.NAME]`, resolved against the main file's globals.
    init(name: String, reading table: inout ConfigTable, globals: ToolformerConfig) throws(ConfigError) {
        let command = try table.argv("command")
        let url = try table.string("url")
        let transport: Transport
        switch (command, url) {
        case (let command?, nil):
            var stdio = Stdio(command: command)
            if let value = try table.environment("env") { stdio.environment = value }
            if let value = try table.workingDirectory("cwd") { stdio.workingDirectory = value }
            transport = .stdio(stdio)
        case (nil, let url?):
            if let reason = ConfigCheck.httpURL(url) { throw table.error(.invalidValue, "url", reason) }
            var remote = Remote(url: url)
            if let value = try table.headers("headers") { remote.headers = value }
            transport = .remote(remote)
        case (nil, nil):
            throw table.error(.missingKey, nil, "needs command (a server run over stdio) or url (one reached over HTTP)")
        case (_?, _?):
            throw table.error(.conflictingKeys, "url", "cannot be set together with command; set exactly one")
        }
        self.init(name: name, transport: transport)

        self.timeoutMs = try table.int("timeout_ms", 1...Int.max) ?? globals.orchestrator.defaultToolTimeoutMs
        if let value = try table.int("max_concurrency", 1...Int.max) { self.maxConcurrency = value }
        if let value = try table.string("rate_limit") { self.rateLimit = value }
        self.cacheTTLSeconds = try table.int("cache_ttl_s", 0...Int.max) ?? globals.cache.defaultTTLSeconds
        if let value = try table.int("ping_interval_ms", 100...86_400_000) { self.pingIntervalMs = value }
        self.retry = try table.retry(over: globals.retry)

        try table.rejectUnknownKeys { key in
            switch key {
            case "env", "cwd": "applies only to a server run with command"
            case "headers": "applies only to a server reached by url"
            default: nil
            }
        }
    }
}
