import ToolformerProtocol

/// The samples `daemon/status` gives, by family name: read at scrape time, so they are exactly
/// what the status says now, and a provider, queue or bucket that a reload removed is gone from
/// the next scrape instead of lingering with its last value.
enum StatusSamples {
    static func collect(_ status: JSONObject) -> [String: [String]] {
        var samples: [String: [String]] = [:]
        func add(_ family: MetricCatalogue.Family, _ labels: [(String, String)], _ value: JSONValue?) {
            guard let value, let text = number(value) else { return }
            samples[family.name, default: []].append(ExpositionText.sample(family.name, labels, text))
        }

        if let cache = status["cache"]?.objectValue {
            add(MetricCatalogue.cacheHits, [], cache["hits"])
            add(MetricCatalogue.cacheMisses, [], cache["misses"])
            add(MetricCatalogue.cacheEvictions, [], cache["evictions"])
            add(MetricCatalogue.cacheEntries, [], cache["entries"])
            add(MetricCatalogue.cacheBytes, [], cache["bytes"])
            add(MetricCatalogue.cacheCompressedBytes, [], cache["compressedBytes"])
            add(MetricCatalogue.cacheSharedJoins, [], cache["sharedJoins"])
        }
        for (name, provider) in sortedObjects(status["providers"]) {
            let labels = [("provider", name)]
            add(MetricCatalogue.providerRequests, labels, provider["requests"])
            add(MetricCatalogue.providerFailures, labels, provider["failures"])
            add(MetricCatalogue.providerTokens, labels + [("direction", "input")], provider["inputTokens"])
            add(MetricCatalogue.providerTokens, labels + [("direction", "output")], provider["outputTokens"])
        }
        add(MetricCatalogue.httpRequests, [], status["pools"]?["http"]?["requests"])
        add(MetricCatalogue.connectionsOpen, [], status["connections"])
        add(MetricCatalogue.requestsInflight, [], status["inflight"])
        add(MetricCatalogue.slowReadersDropped, [], status["slowReadersDropped"])
        add(MetricCatalogue.overloadRefusals, [], status["overloadRefusals"])
        for (name, queue) in sortedObjects(status["queues"]) {
            add(MetricCatalogue.queueRunning, [("queue", name)], queue["running"])
            add(MetricCatalogue.queueQueued, [("queue", name)], queue["queued"])
        }
        for (name, bucket) in sortedObjects(status["rateLimits"]) {
            add(MetricCatalogue.rateLimitLevel, [("bucket", name)], bucket["level"])
        }
        if let cluster = status["cluster"]?.objectValue {
            add(MetricCatalogue.clusterUp, [], .int(cluster["state"] == "shared" ? 1 : 0))
            if let rtt = cluster["rttMs"]?.numberValue { add(MetricCatalogue.clusterRTT, [], .double(rtt / 1000)) }
            add(MetricCatalogue.clusterSharedHits, [], cluster["sharedHits"])
            add(MetricCatalogue.clusterLeaseWaits, [], cluster["leaseWaits"])
            add(MetricCatalogue.clusterFallbacks, [], cluster["fallbacks"])
            add(MetricCatalogue.clusterDegradations, [], cluster["degradations"])
        }
        if let milliseconds = status["uptimeMs"]?.numberValue {
            add(MetricCatalogue.uptime, [], .double(milliseconds / 1000))
        }
        let version = status["version"]?.stringValue ?? ToolformerVersion.current
        add(MetricCatalogue.buildInfo, [("version", version)], .int(1))
        return samples
    }

    /// An object's members that are objects themselves, by name.
    private static func sortedObjects(_ value: JSONValue?) -> [(String, JSONObject)] {
        guard let object = value?.objectValue else { return [] }
        return object.pairs.compactMap { pair in pair.value.objectValue.map { (pair.key, $0) } }
            .sorted { $0.0 < $1.0 }
    }

    /// Integers as they are, so a counter never reads `1.2e+07`; anything not a number is skipped.
    private static func number(_ value: JSONValue) -> String? {
        switch value {
        case .int(let integer): String(integer)
        case .double(let double): ExpositionText.value(double)
        default: nil
        }
    }
}
