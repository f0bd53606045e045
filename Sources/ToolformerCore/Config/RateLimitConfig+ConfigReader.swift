extension RateLimitConfig {
    /// `[rate_limits.NAME]`. Whether `shared` has a `[cluster]` to use is checked once every file
    /// is read.
    init(name: String, reading table: inout ConfigTable) throws(ConfigError) {
        let anyRate = 0...Double.greatestFiniteMagnitude
        let perSecond = try table.double("requests_per_second", anyRate)
        let perMinute = try table.double("requests_per_minute", anyRate)
        let rate: Rate
        let rateKey: String
        switch (perSecond, perMinute) {
        case (let value?, nil):
            (rate, rateKey) = (.perSecond(value), "requests_per_second")
        case (nil, let value?):
            (rate, rateKey) = (.perMinute(value), "requests_per_minute")
        case (nil, nil):
            throw table.error(.missingKey, nil, "needs requests_per_second or requests_per_minute")
        case (_?, _?):
            throw table.error(
                .conflictingKeys,
                "requests_per_minute",
                "cannot be set together with requests_per_second; set exactly one"
            )
        }
        guard rate.requestsPerSecond > 0 else {
            throw table.error(.outOfRange, rateKey, "must be more than 0")
        }
        self.init(name: name, rate: rate)
        if let value = try table.int("tokens_per_minute", 1...Int.max) { self.tokensPerMinute = value }
        if let value = try table.int("burst", 1...Int.max) { self.burst = value }
        if let value = try table.int("max_wait_ms", 0...Int.max) { self.maxWaitMs = value }
        if let value = try table.bool("shared") { self.shared = value }
        if let value = try table.double("local_share", 0...1) { self.localShare = value }
        try table.rejectUnknownKeys()
    }
}
