extension ProviderConfig {
    /// `[providers.NAME]`, resolved against the main file's `[retry]`. Whether `rate_limit` names
    /// a declared bucket is checked once every file is read.
    init(name: String, reading table: inout ConfigTable, globals: ToolformerConfig) throws(ConfigError) {
        let kinds = Kind.allCases.map(\.rawValue).joined(separator: ", ")
        guard let kindName = try table.string("kind") else {
            throw table.error(.missingKey, "kind", "is required: one of \(kinds)")
        }
        guard let kind = Kind(rawValue: kindName) else {
            throw table.error(.invalidValue, "kind", "must be one of \(kinds)")
        }
        self.init(name: name, kind: kind)
        self.retry = globals.retry

        if let url = try table.string("base_url") {
            if let reason = ConfigCheck.httpURL(url) { throw table.error(.invalidValue, "base_url", reason) }
            // The client appends "/chat/completions"; a trailing slash would double it.
            var trimmed = Substring(url)
            while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            self.baseURL = String(trimmed)
        }
        if let model = try table.string("model") {
            if model.isEmpty { throw table.error(.invalidValue, "model", "must not be empty") }
            self.model = model
        }
        self.apiKey = try table.secret(environment: "api_key_env", file: "api_key_file", credential: "credential")
        if let value = try table.string("rate_limit") { self.rateLimit = value }
        if let value = try table.int("timeout_ms", 1...Int.max) { self.timeoutMs = value }
        if let value = try table.int("cache_ttl_s", 0...Int.max) { self.cacheTTLSeconds = value }
        if let value = try table.headers("headers") { self.headers = value }
        self.retry = try table.retry(over: globals.retry)
        try table.rejectUnknownKeys()
    }
}

extension ConfigTable {
    /// `headers = { ... }`: token names, and values without line breaks (never quoted: they may
    /// hold tokens).
    mutating func headers(_ key: String) throws(ConfigError) -> [String: String]? {
        try self.stringTable(key, checkKey: ConfigCheck.headerName, checkValue: ConfigCheck.headerValue)
    }

    /// `env = { ... }` for a child process.
    mutating func environment(_ key: String) throws(ConfigError) -> [String: String]? {
        try self.stringTable(key, checkKey: ConfigCheck.environmentName)
    }

    /// `argv` / `command`: non-empty, its first element an absolute path, because the daemon never
    /// searches `PATH` (under systemd it is not the PATH a user expects).
    mutating func argv(_ key: String) throws(ConfigError) -> [String]? {
        guard let argv = try self.stringArray(key) else { return nil }
        guard let program = argv.first else {
            throw self.error(.invalidValue, key, "must hold at least the program's absolute path")
        }
        if let reason = ConfigCheck.absolutePath(program) {
            throw self.error(.invalidValue, key + "[0]", reason + ": the program is never looked up in PATH")
        }
        return argv
    }

    /// `cwd`: absolute, since relative to the daemon's own directory means nothing to the reader.
    mutating func workingDirectory(_ key: String) throws(ConfigError) -> String? {
        guard let directory = try self.string(key) else { return nil }
        if let reason = ConfigCheck.absolutePath(directory) { throw self.error(.invalidValue, key, reason) }
        return directory
    }
}
