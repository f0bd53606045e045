extension ToolConfig {
    /// The keys each kind takes besides the common ones, for a helpful error when a key of one kind
    /// appears on a tool of another.
    private static let kindKeys: [(kind: String, keys: [String])] = [
        ("builtin", ["builtin"]),
        ("exec", ["argv", "env", "cwd", "retry_exit_codes"]),
        ("http", ["method", "url", "headers"]),
    ]

    private static let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// `[tools.NAME]`, resolved against the main file's globals. Whether `rate_limit` names a
    /// declared bucket is checked once every file is read.
    init(name: String, reading table: inout ConfigTable, globals: ToolformerConfig) throws(ConfigError) {
        let kinds = Self.kindKeys.map(\.kind).joined(separator: ", ")
        guard let kindName = try table.string("kind") else {
            throw table.error(.missingKey, "kind", "is required: one of \(kinds)")
        }
        let kind: Kind
        switch kindName {
        case "builtin": kind = .builtin(try Self.readBuiltin(name: name, &table))
        case "exec": kind = .exec(try Self.readExec(&table))
        case "http": kind = .http(try Self.readHTTP(&table))
        default: throw table.error(.invalidValue, "kind", "must be one of \(kinds)")
        }
        self.init(name: name, kind: kind)

        if let value = try table.string("description") { self.description = value }
        if let schema = try table.string("input_schema") {
            if let reason = ConfigCheck.inputSchema(schema) { throw table.error(.invalidValue, "input_schema", reason) }
            self.inputSchema = schema
        }
        self.timeoutMs = try table.int("timeout_ms", 1...Int.max) ?? globals.orchestrator.defaultToolTimeoutMs
        if let value = try table.string("rate_limit") { self.rateLimit = value }
        self.cacheTTLSeconds = try table.int("cache_ttl_s", 0...Int.max) ?? globals.cache.defaultTTLSeconds
        if let value = try table.int("max_concurrency", 1...Int.max) { self.maxConcurrency = value }
        self.retry = try table.retry(over: globals.retry)
        if let value = try table.bool("idempotent") { self.idempotent = value }
        if let value = try table.int("hedge_after_ms", 0...Int.max) { self.hedgeAfterMs = value }
        if self.hedgeAfterMs > 0 && !self.idempotent {
            throw table.error(.invalidValue, "hedge_after_ms", "needs idempotent = true: hedging runs the tool twice")
        }

        try table.rejectUnknownKeys { key in
            guard let owner = Self.kindKeys.first(where: { $0.keys.contains(key) }) else { return nil }
            return "applies only to tools of kind \(owner.kind), and this one is \(kindName)"
        }
    }

    private static func readBuiltin(name: String, _ table: inout ConfigTable) throws(ConfigError) -> Builtin {
        let builtins = Builtin.allCases.map(\.rawValue).joined(separator: ", ")
        if let builtinName = try table.string("builtin") {
            guard let builtin = Builtin(rawValue: builtinName) else {
                throw table.error(.invalidValue, "builtin", "must be one of \(builtins)")
            }
            return builtin
        }
        guard let builtin = Builtin(rawValue: name) else {
            throw table.error(
                .missingKey,
                "builtin",
                "is required when the tool's name is not a builtin's (\(builtins)): builtin = \"echo\" declares an echo tool under this name"
            )
        }
        return builtin
    }

    private static func readExec(_ table: inout ConfigTable) throws(ConfigError) -> Exec {
        guard let argv = try table.argv("argv") else {
            throw table.error(.missingKey, "argv", "is required for an exec tool, e.g. [\"/usr/bin/uname\", \"-a\"]")
        }
        var exec = Exec(argv: argv)
        if let value = try table.environment("env") { exec.environment = value }
        if let value = try table.workingDirectory("cwd") { exec.workingDirectory = value }
        if let value = try table.intArray("retry_exit_codes", 1...255) { exec.retryExitCodes = value }
        return exec
    }

    private static func readHTTP(_ table: inout ConfigTable) throws(ConfigError) -> HTTP {
        guard let url = try table.string("url") else {
            throw table.error(.missingKey, "url", "is required for an http tool")
        }
        if let reason = ConfigCheck.httpURL(url) { throw table.error(.invalidValue, "url", reason) }
        var http = HTTP(url: url)
        if let method = try table.string("method") {
            guard Self.methods.contains(method.uppercased()) else {
                let methods = Self.methods.joined(separator: ", ")
                throw table.error(.invalidValue, "method", "must be one of \(methods)")
            }
            http.method = method.uppercased()
        }
        if let value = try table.headers("headers") { http.headers = value }
        return http
    }
}
