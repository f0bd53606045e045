import Logging
import TOMLKit

extension ToolformerConfig {
    /// Reads the main file at `path`, then every `*.toml` in the `tools.d` folder beside it, in
    /// byte order of file name, and validates the whole.
    ///
    /// `tools.d` files may add `[tools.*]`, `[providers.*]`, `[rate_limits.*]` and
    /// `[mcp_servers.*]` only; a name declared in two files is an error naming both. A missing
    /// `tools.d` folder is fine; a missing main file is not.
    public static func load(path: String) throws(ConfigError) -> ToolformerConfig {
        var builder = ConfigBuilder(mainFile: path)
        try builder.readMain(ConfigFiles.contents(of: path))
        for file in try ConfigFiles.dropIns(beside: path) {
            try builder.readDropIn(ConfigFiles.contents(of: file), file: file)
        }
        return try builder.finish()
    }

    /// Parses one main file's text, without looking for `tools.d`. `file` only names the text in
    /// errors.
    public static func parse(toml: String, file: String) throws(ConfigError) -> ToolformerConfig {
        var builder = ConfigBuilder(mainFile: file)
        try builder.readMain(ConfigFiles.text(Array(toml.utf8), file: file))
        return try builder.finish()
    }

    /// The `tools.d` folder that ``load(path:)`` reads for a main file at `path`.
    public static func dropInDirectory(forConfigAt path: String) -> String {
        ConfigFiles.dropInDirectory(beside: path)
    }
}

/// Reads the main file and the drop-ins into one configuration, then checks what crosses files.
struct ConfigBuilder {
    private var config = ToolformerConfig()
    private let mainFile: String
    /// `tools.x` -> the file that declared it: for duplicate errors, and so that a bad reference
    /// found after every file is read still names the file it is in.
    private var declaredIn: [String: String] = [:]

    static let entrySections = ["rate_limits", "providers", "tools", "mcp_servers"]

    init(mainFile: String) {
        self.mainFile = mainFile
        // The implicit mock applies only when no file declares any provider: see finish().
        self.config.providers = [:]
    }

    mutating func readMain(_ toml: String) throws(ConfigError) {
        var root = try ConfigTable(parsing: toml, file: self.mainFile)
        // Globals first, whatever the file's order: the entries start from [retry], the default
        // tool timeout and the default TTL.
        if var table = try root.table("server") { self.config.server = try .init(reading: &table) }
        if var table = try root.table("orchestrator") { self.config.orchestrator = try .init(reading: &table) }
        if var table = try root.table("retry") { try self.config.retry.apply(&table) }
        if var table = try root.table("cache") { self.config.cache = try .init(reading: &table) }
        if var table = try root.table("http") { self.config.http = try .init(reading: &table) }
        if var table = try root.table("metrics") { self.config.metrics = try .init(reading: &table) }
        if var table = try root.table("log") { self.config.log = try .init(reading: &table) }
        if var table = try root.table("cluster") { self.config.cluster = try .init(reading: &table) }
        try self.readEntries(&root)
        try root.rejectUnknownKeys()
    }

    mutating func readDropIn(_ toml: String, file: String) throws(ConfigError) {
        var root = try ConfigTable(parsing: toml, file: file)
        for key in root.keys where !Self.entrySections.contains(key) {
            throw root.error(
                .notAllowedHere,
                key,
                "a tools.d file may only add tools, providers, rate_limits and mcp_servers; this belongs in \(self.mainFile)"
            )
        }
        try self.readEntries(&root)
        try root.rejectUnknownKeys()
    }

    private mutating func readEntries(_ root: inout ConfigTable) throws(ConfigError) {
        let globals = self.config
        try self.readSection(&root, "rate_limits", into: \.rateLimits) { name, table throws(ConfigError) in
            try RateLimitConfig(name: name, reading: &table)
        }
        try self.readSection(&root, "providers", into: \.providers) { name, table throws(ConfigError) in
            try ProviderConfig(name: name, reading: &table, globals: globals)
        }
        try self.readSection(&root, "tools", into: \.tools) { name, table throws(ConfigError) in
            try ToolConfig(name: name, reading: &table, globals: globals)
        }
        try self.readSection(&root, "mcp_servers", into: \.mcpServers) { name, table throws(ConfigError) in
            try MCPServerConfig(name: name, reading: &table, globals: globals)
        }
    }

    private mutating func readSection<Entry>(
        _ root: inout ConfigTable,
        _ section: String,
        into entries: WritableKeyPath<ToolformerConfig, [String: Entry]>,
        _ read: (String, inout ConfigTable) throws(ConfigError) -> Entry
    ) throws(ConfigError) {
        guard var sectionTable = try root.table(section) else { return }
        for name in sectionTable.keys {
            guard ConfigCheck.isName(name) else {
                throw sectionTable.error(.invalidName, name, ConfigCheck.nameRule)
            }
            let id = "\(section).\(name)"
            if let first = self.declaredIn[id] {
                throw sectionTable.error(
                    .duplicateName,
                    name,
                    "declared twice, in \(first) and in \(sectionTable.file); a name may be declared once"
                )
            }
            guard var table = try sectionTable.table(name) else { continue }
            self.config[keyPath: entries][name] = try read(name, &table)
            self.declaredIn[id] = sectionTable.file
        }
    }

    /// The checks that need every file: references between sections.
    func finish() throws(ConfigError) -> ToolformerConfig {
        var config = self.config
        if config.providers.isEmpty {
            config.providers = ToolformerConfig().providers
        }

        let providers = config.providers
        let orchestrator = config.orchestrator
        // The name itself is not quoted: the key says where it is, and a value is never echoed.
        func undeclared(_ what: String, declared: some Collection<String>) -> String {
            let list = declared.sorted().joined(separator: ", ")
            return "names a \(what) that is not declared (declared: \(list.isEmpty ? "none" : list))"
        }
        if providers[orchestrator.defaultProvider] == nil {
            throw ConfigError(
                .undeclaredReference,
                file: self.mainFile,
                key: "orchestrator.default_provider",
                reason: undeclared("provider", declared: providers.keys)
            )
        }
        var seen: Set<String> = [orchestrator.defaultProvider]
        for (index, name) in orchestrator.fallbackProviders.enumerated() {
            let key = "orchestrator.fallback_providers[\(index)]"
            if providers[name] == nil {
                throw ConfigError(
                    .undeclaredReference,
                    file: self.mainFile,
                    key: key,
                    reason: undeclared("provider", declared: providers.keys)
                )
            }
            guard seen.insert(name).inserted else {
                throw ConfigError(
                    .invalidValue,
                    file: self.mainFile,
                    key: key,
                    reason: "names a provider again that is already the default or an earlier fallback"
                )
            }
        }

        let buckets = config.rateLimits
        func checkBucket(_ section: String, _ name: String, _ bucket: String?) throws(ConfigError) {
            guard let bucket, buckets[bucket] == nil else { return }
            throw ConfigError(
                .undeclaredReference,
                file: self.declaredIn["\(section).\(name)"] ?? self.mainFile,
                key: ConfigKeyPath.join([section, name, "rate_limit"]),
                reason: undeclared("rate limit", declared: buckets.keys)
            )
        }
        for name in providers.keys.sorted() {
            try checkBucket("providers", name, providers[name]?.rateLimit)
        }
        for name in config.tools.keys.sorted() {
            try checkBucket("tools", name, config.tools[name]?.rateLimit)
        }
        for name in config.mcpServers.keys.sorted() {
            try checkBucket("mcp_servers", name, config.mcpServers[name]?.rateLimit)
        }
        if config.cluster == nil {
            for name in buckets.keys.sorted() where buckets[name]?.shared == true {
                throw ConfigError(
                    .invalidValue,
                    file: self.declaredIn["rate_limits.\(name)"] ?? self.mainFile,
                    key: ConfigKeyPath.join(["rate_limits", name, "shared"]),
                    reason: "needs a [cluster] section: a shared budget is kept in the cluster's Redis"
                )
            }
        }
        return config
    }
}

extension ConfigTable {
    /// A whole file. TOML syntax errors carry the parser's line and column.
    init(parsing toml: String, file: String) throws(ConfigError) {
        if let place = TOMLCrashGuard.unsafePlace(in: toml) {
            throw ConfigError(
                .syntax,
                file: file,
                key: "",
                reason: "not valid TOML at line \(place.line), column \(place.column): \(place.reason)"
            )
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            let begin = error.source.begin
            throw ConfigError(
                .syntax,
                file: file,
                key: "",
                reason: "not valid TOML at line \(begin.line), column \(begin.column): \(error.description)"
            )
        } catch {
            throw ConfigError(.syntax, file: file, key: "", reason: "not valid TOML")
        }
        self.init(table, path: [], file: file)
    }

    /// A `retry` table or inline table over `base`.
    mutating func retry(over base: ToolformerConfig.Retry) throws(ConfigError) -> ToolformerConfig.Retry {
        var retry = base
        if var table = try self.table("retry") { try retry.apply(&table) }
        return retry
    }

    /// At most one of the keys that say where a secret is; "" counts as unset, as in
    /// `password_file = ""`.
    mutating func secret(
        environment environmentKey: String?,
        file fileKey: String,
        credential credentialKey: String
    ) throws(ConfigError) -> ToolformerConfig.Secret? {
        var found: [(key: String, secret: ToolformerConfig.Secret)] = []
        if let environmentKey, let name = try self.string(environmentKey), !name.isEmpty {
            if let reason = ConfigCheck.environmentName(name) { throw self.error(.invalidValue, environmentKey, reason) }
            found.append((environmentKey, .environment(name)))
        }
        if let path = try self.string(fileKey), !path.isEmpty {
            if let reason = ConfigCheck.absolutePath(path) { throw self.error(.invalidValue, fileKey, reason) }
            found.append((fileKey, .file(path)))
        }
        if let name = try self.string(credentialKey), !name.isEmpty {
            if let reason = ConfigCheck.credentialName(name) { throw self.error(.invalidValue, credentialKey, reason) }
            found.append((credentialKey, .systemdCredential(name)))
        }
        if found.count > 1 {
            let all = [environmentKey, fileKey, credentialKey].compactMap { $0 }.joined(separator: ", ")
            throw self.error(
                .conflictingKeys,
                found[1].key,
                "cannot be set together with \(found[0].key); set at most one of \(all)"
            )
        }
        return found.first?.secret
    }
}

// MARK: - Sections

extension ToolformerConfig.Server {
    init(reading table: inout ConfigTable) throws(ConfigError) {
        self.init()
        if let socket = try table.string("socket"), !socket.isEmpty {
            if let reason = ConfigCheck.socketPath(socket) { throw table.error(.invalidValue, "socket", reason) }
            self.socket = socket
        }
        if table.type(of: "socket_mode") == .int {
            // `0o660` would work but `660` would silently mean 0o1224: one spelling only.
            throw table.error(.wrongType, "socket_mode", "expected a string such as \"0660\", got an integer")
        }
        if let mode = try table.string("socket_mode") {
            guard let parsed = ConfigCheck.octalMode(mode) else {
                throw table.error(
                    .invalidValue,
                    "socket_mode",
                    "must be 3 or 4 octal digits, at most 0777, such as \"0660\""
                )
            }
            self.socketMode = parsed
        }
        if let group = try table.string("socket_group") {
            self.socketGroup = group.isEmpty ? nil : group
        }
        if let value = try table.int("max_connections", 1...Int.max) { self.maxConnections = value }
        if let value = try table.int("max_line_bytes", 1024...(1 << 30)) { self.maxLineBytes = value }
        if let value = try table.int("max_inflight_per_connection", 1...Int.max) {
            self.maxInflightPerConnection = value
        }
        if let value = try table.int("max_connections_per_uid", 1...Int.max) { self.maxConnectionsPerUid = value }
        if let value = try table.int("slow_reader_timeout_ms", 1...Int.max) { self.slowReaderTimeoutMs = value }
        if let value = try table.uids("allowed_uids") { self.allowedUids = value }
        if let value = try table.groups("allowed_groups") { self.allowedGroups = value }
        if let value = try table.uids("admin_uids") { self.adminUids = value }
        if let value = try table.groups("admin_groups") { self.adminGroups = value }
        if let value = try table.int("drain_timeout_ms", 0...Int.max) { self.drainTimeoutMs = value }
        try table.rejectUnknownKeys()
    }
}

extension ConfigTable {
    /// uid_t is 32 bits, and (uid_t)-1 means "no uid" to the kernel.
    fileprivate mutating func uids(_ key: String) throws(ConfigError) -> [UInt32]? {
        try self.intArray(key, 0...Int(UInt32.max - 1))?.map { UInt32($0) }
    }

    fileprivate mutating func groups(_ key: String) throws(ConfigError) -> [String]? {
        guard let groups = try self.stringArray(key) else { return nil }
        if let index = groups.firstIndex(where: \.isEmpty) {
            throw self.error(.invalidValue, key + "[\(index)]", "must be a group name, not empty")
        }
        return groups
    }
}

extension ToolformerConfig.Orchestrator {
    init(reading table: inout ConfigTable) throws(ConfigError) {
        self.init()
        if let value = try table.int("max_concurrency", 1...Int.max) { self.maxConcurrency = value }
        if let value = try table.int("default_tool_timeout_ms", 1...Int.max) { self.defaultToolTimeoutMs = value }
        if let value = try table.int("max_request_ms", 1...Int.max) { self.maxRequestMs = value }
        if let value = try table.string("default_provider") { self.defaultProvider = value }
        if let value = try table.stringArray("fallback_providers") { self.fallbackProviders = value }
        if let value = try table.int("max_turns", 1...Int.max) { self.maxTurns = value }
        if let value = try table.int("max_queued", 0...Int.max) { self.maxQueued = value }
        if let value = try table.int("max_result_bytes", 1024...Int.max) { self.maxResultBytes = value }
        try table.rejectUnknownKeys()
    }
}

extension ToolformerConfig.Retry {
    /// The keys of `table` over `self`: `[retry]` over the defaults, or a tool's, provider's or MCP
    /// server's `retry = { ... }` over `[retry]`.
    mutating func apply(_ table: inout ConfigTable) throws(ConfigError) {
        let initial = try table.int("initial_backoff_ms", 0...Int.max)
        let maximum = try table.int("max_backoff_ms", 0...Int.max)
        if let value = try table.int("max_attempts", 1...100) { self.maxAttempts = value }
        if let initial { self.initialBackoffMs = initial }
        if let maximum { self.maxBackoffMs = maximum }
        if self.maxBackoffMs < self.initialBackoffMs {
            throw table.error(
                .outOfRange,
                maximum != nil ? "max_backoff_ms" : "initial_backoff_ms",
                "max_backoff_ms (\(self.maxBackoffMs)) must be at least initial_backoff_ms (\(self.initialBackoffMs))"
            )
        }
        try table.rejectUnknownKeys()
    }
}

extension ToolformerConfig.Cache {
    init(reading table: inout ConfigTable) throws(ConfigError) {
        self.init()
        if let value = try table.int("max_entries", 1...Int.max) { self.maxEntries = value }
        if let value = try table.int("max_bytes", 1...Int.max) { self.maxBytes = value }
        if let value = try table.int("default_ttl_s", 0...Int.max) { self.defaultTTLSeconds = value }
        if let value = try table.int("compress_min_bytes", 0...Int.max) { self.compressMinBytes = value }
        if let directory = try table.string("dir"), !directory.isEmpty {
            if let reason = ConfigCheck.absolutePath(directory) { throw table.error(.invalidValue, "dir", reason) }
            self.directory = directory
        }
        try table.rejectUnknownKeys()
    }
}

extension ToolformerConfig.HTTP {
    init(reading table: inout ConfigTable) throws(ConfigError) {
        self.init()
        if let value = try table.int("max_connections_per_host", 1...Int.max) { self.maxConnectionsPerHost = value }
        if let value = try table.int("idle_timeout_ms", 1...Int.max) { self.idleTimeoutMs = value }
        if let value = try table.int("connect_timeout_ms", 1...Int.max) { self.connectTimeoutMs = value }
        try table.rejectUnknownKeys()
    }
}

extension ToolformerConfig.Metrics {
    init(reading table: inout ConfigTable) throws(ConfigError) {
        self.init()
        if let listen = try table.string("listen"), !listen.isEmpty {
            guard let endpoint = ConfigCheck.endpoint(listen) else {
                throw table.error(
                    .invalidValue,
                    "listen",
                    "must be host:port (port 1-65535), [ipv6]:port, or \"\" for none"
                )
            }
            self.listen = endpoint
        }
        try table.rejectUnknownKeys()
    }
}

extension ToolformerConfig.Log {
    init(reading table: inout ConfigTable) throws(ConfigError) {
        self.init()
        if let level = try table.string("level") {
            guard let parsed = Logger.Level(rawValue: level) else {
                let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw table.error(.invalidValue, "level", "must be one of \(levels)")
            }
            self.level = parsed
        }
        try table.rejectUnknownKeys()
    }
}

extension ToolformerConfig.Cluster {
    init(reading table: inout ConfigTable) throws(ConfigError) {
        self.init()
        if let url = try table.string("redis_url") {
            if let reason = ConfigCheck.redisURL(url) { throw table.error(.invalidValue, "redis_url", reason) }
            self.redisURL = url
        }
        self.password = try table.secret(environment: nil, file: "password_file", credential: "credential")
        if self.password != nil, (try? RedisEndpoint(url: self.redisURL))?.password != nil {
            throw table.error(
                .conflictingKeys,
                "redis_url",
                "holds a password, and password_file or credential names another; keep the password in one place"
            )
        }
        if let value = try table.string("key_prefix") {
            if value.utf8.count > 256 || value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw table.error(.invalidValue, "key_prefix", "must be at most 256 bytes without control characters")
            }
            self.keyPrefix = value
        }
        if let value = try table.int("connect_timeout_ms", 1...600_000) { self.connectTimeoutMs = value }
        if let value = try table.int("command_timeout_ms", 1...600_000) { self.commandTimeoutMs = value }
        if let value = try table.int("pool_size", 1...64) { self.poolSize = value }
        if let value = try table.int("max_value_bytes", 1024...(512 << 20)) { self.maxValueBytes = value }
        try table.rejectUnknownKeys()
    }
}
