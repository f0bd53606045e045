import Foundation
import Logging
import Testing
import ToolformerCore
import ToolformerMetrics
import ToolformerProtocol

/// A status object shaped like `daemon/status`'s, with every part the exporter reads.
func sampleStatus(
    providers: JSONObject? = nil, level: Double = -2.5, hits: Int64 = 7
) -> JSONObject {
    let defaultProviders: JSONObject = [
        "mock": ["kind": "mock", "model": "mock", "requests": 3, "failures": 0, "inputTokens": 14, "outputTokens": 21,
                 "cacheHits": 0, "lastError": nil],
        "openai": ["kind": "openai", "model": "gpt-4o-mini", "requests": 12, "failures": 2, "inputTokens": 12_000_000,
                   "outputTokens": 345, "cacheHits": 1, "lastError": nil],
    ]
    return [
        "version": "9.8.7", "pid": 4242, "uptimeMs": 5120, "connections": 2, "inflight": 1, "draining": false,
        "slowReadersDropped": 4, "overloadRefusals": 6,
        "connectionList": [["id": 1, "peerUid": 1000, "peerPid": 5150]], "tools": 5, "inflightByTool": ["sleep": 1],
        "queues": [
            "global": ["limit": 512, "running": 1, "queued": 0],
            "weather": ["limit": 8, "running": 8, "queued": 3],
        ],
        "rateLimits": [
            "weather": ["level": .double(level), "capacity": 5, "ratePerSecond": 1, "maxWaitMs": 30000],
            "openai": ["level": 50, "capacity": 50, "ratePerSecond": 8.333, "maxWaitMs": 30000],
        ],
        "cache": [
            "entries": 4, "bytes": 9000, "maxEntries": 100_000, "maxBytes": 268_435_456, "hits": .int(hits), "misses": 5,
            "evictions": 2, "expired": 1, "compressedEntries": 1, "compressedBytes": 812, "tierHits": 0, "sharedInFlight": 0,
            "sharedJoins": 19,
        ],
        "providers": .object(providers ?? defaultProviders),
        "pools": ["http": ["requests": 31, "responded": 30, "failed": 1, "cancelled": 0, "inFlight": 0]],
    ]
}

let knownMethods = ["initialize", "ping", "tools/list", "tools/call", "tools/batch", "orchestrate", "daemon/status"]

func parse(_ text: String) throws -> PrometheusText {
    do {
        return try PrometheusText(text)
    } catch {
        Issue.record("not valid exposition text: \(error)\n\(text)")
        throw error
    }
}

@Suite struct ExpositionTests {
    @Test func everyFamilyHasHelpAndTypeEvenBeforeASample() throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        let text = metrics.exposition(status: [:])
        let parsed = try parse(text)
        let expected = [
            "requests_total": "counter", "request_duration_seconds": "histogram", "tool_calls_total": "counter",
            "tool_call_duration_seconds": "histogram", "tool_retries_total": "counter", "ratelimit_waits_total": "counter",
            "ratelimit_wait_seconds": "histogram", "ratelimit_rejections_total": "counter", "cache_hits_total": "counter",
            "cache_misses_total": "counter", "cache_evictions_total": "counter", "cache_entries": "gauge",
            "cache_bytes": "gauge", "cache_compressed_bytes": "gauge", "provider_requests_total": "counter",
            "provider_failures_total": "counter", "provider_tokens_total": "counter", "http_requests_total": "counter",
            "connections_open": "gauge", "requests_inflight": "gauge", "slow_readers_dropped_total": "counter",
            "overload_refusals_total": "counter", "cache_shared_joins_total": "counter", "queue_running": "gauge", "queue_queued": "gauge",
            "ratelimit_level": "gauge", "uptime_seconds": "gauge", "build_info": "gauge",
            "cluster_shared": "gauge", "cluster_rtt_seconds": "gauge", "cluster_shared_hits_total": "counter",
            "cluster_lease_waits_total": "counter", "cluster_fallbacks_total": "counter",
            "cluster_degradations_total": "counter",
        ]
        #expect(parsed.families.count == expected.count)
        for (name, type) in expected {
            let family = try #require(parsed.family("toolformer_" + name), "missing \(name)")
            #expect(family.type == type, "\(name)")
            #expect(family.help?.isEmpty == false, "\(name) has no HELP")
        }
        // Even with an empty status the build is named.
        #expect(parsed.value("toolformer_build_info", ["version": ToolformerVersion.current]) == 1)
    }

    @Test func countersMoveAsEventsAreRecorded() throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        metrics.requestFinished(method: "ping", code: 0, duration: .microseconds(300))
        metrics.requestFinished(method: "ping", code: 0, duration: .milliseconds(3))
        metrics.requestFinished(method: "tools/call", code: -32602, duration: .milliseconds(40))
        metrics.toolCallFinished(tool: "weather", outcome: "ok", duration: .milliseconds(120))
        metrics.toolCallFinished(tool: "weather", outcome: "cached", duration: .microseconds(20))
        metrics.toolCallFinished(tool: "disk_usage", outcome: "timeout", duration: .seconds(10))
        metrics.toolRetried(tool: "weather")
        metrics.toolRetried(tool: "weather")
        metrics.rateLimitWaited(bucket: "team-api", wait: .milliseconds(750))
        metrics.rateLimitRejected(bucket: "team-api")

        var parsed = try parse(metrics.exposition(status: [:]))
        #expect(parsed.value("toolformer_requests_total", ["method": "ping", "code": "0"]) == 2)
        #expect(parsed.value("toolformer_requests_total", ["method": "tools/call", "code": "-32602"]) == 1)
        #expect(parsed.value("toolformer_request_duration_seconds_count", ["method": "ping"]) == 2)
        #expect(parsed.value("toolformer_request_duration_seconds_bucket", ["method": "ping", "le": "0.0005"]) == 1)
        #expect(parsed.value("toolformer_request_duration_seconds_bucket", ["method": "ping", "le": "0.005"]) == 2)
        let pingSum = try #require(parsed.value("toolformer_request_duration_seconds_sum", ["method": "ping"]))
        #expect(abs(pingSum - 0.0033) < 1e-9)
        #expect(parsed.value("toolformer_tool_calls_total", ["tool": "weather", "outcome": "ok"]) == 1)
        #expect(parsed.value("toolformer_tool_calls_total", ["tool": "weather", "outcome": "cached"]) == 1)
        #expect(parsed.value("toolformer_tool_calls_total", ["tool": "disk_usage", "outcome": "timeout"]) == 1)
        #expect(parsed.value("toolformer_tool_call_duration_seconds_count", ["tool": "weather"]) == 2)
        #expect(parsed.value("toolformer_tool_call_duration_seconds_bucket", ["tool": "disk_usage", "le": "5.0"]) == 0)
        #expect(parsed.value("toolformer_tool_call_duration_seconds_bucket", ["tool": "disk_usage", "le": "10.0"]) == 1)
        #expect(parsed.value("toolformer_tool_retries_total", ["tool": "weather"]) == 2)
        #expect(parsed.value("toolformer_ratelimit_waits_total", ["bucket": "team-api"]) == 1)
        #expect(parsed.value("toolformer_ratelimit_wait_seconds_sum", ["bucket": "team-api"]) == 0.75)
        #expect(parsed.value("toolformer_ratelimit_wait_seconds_bucket", ["bucket": "team-api", "le": "1.0"]) == 1)
        #expect(parsed.value("toolformer_ratelimit_rejections_total", ["bucket": "team-api"]) == 1)

        metrics.requestFinished(method: "ping", code: 0, duration: .microseconds(100))
        metrics.rateLimitRejected(bucket: "team-api")
        parsed = try parse(metrics.exposition(status: [:]))
        #expect(parsed.value("toolformer_requests_total", ["method": "ping", "code": "0"]) == 3)
        #expect(parsed.value("toolformer_ratelimit_rejections_total", ["bucket": "team-api"]) == 2)
    }

    @Test func unknownMethodsCollapseToOther() throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        for index in 0..<200 {
            metrics.requestFinished(method: "made/up/\(index)", code: -32601, duration: .microseconds(50))
        }
        metrics.requestFinished(method: "x\"y\\z\nw", code: -32601, duration: .microseconds(50))
        metrics.requestFinished(method: "", code: -32600, duration: .microseconds(50))
        metrics.requestFinished(method: "ping", code: 0, duration: .microseconds(50))

        let parsed = try parse(metrics.exposition(status: [:]))
        let methods = Set(parsed.samples("toolformer_requests_total").compactMap { $0.labels["method"] })
        #expect(methods == ["other", "ping"])
        #expect(parsed.value("toolformer_requests_total", ["method": "other", "code": "-32601"]) == 201)
        #expect(parsed.value("toolformer_requests_total", ["method": "other", "code": "-32600"]) == 1)
        #expect(parsed.value("toolformer_request_duration_seconds_count", ["method": "other"]) == 202)
        #expect(metrics.methodLabel("tools/call") == "tools/call")
        #expect(metrics.methodLabel("daemon/metrics") == "other")

        // Methods recognised later (the table is complete only after the orchestrator exists).
        metrics.recognize(methods: ["daemon/metrics"])
        #expect(metrics.methodLabel("daemon/metrics") == "daemon/metrics")
    }

    @Test func statusValuesAppearWithTheirLabels() throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        let parsed = try parse(metrics.exposition(status: sampleStatus()))
        #expect(parsed.value("toolformer_cache_hits_total") == 7)
        #expect(parsed.value("toolformer_cache_misses_total") == 5)
        #expect(parsed.value("toolformer_cache_evictions_total") == 2)
        #expect(parsed.value("toolformer_cache_entries") == 4)
        #expect(parsed.value("toolformer_cache_bytes") == 9000)
        #expect(parsed.value("toolformer_cache_compressed_bytes") == 812)
        #expect(parsed.value("toolformer_provider_requests_total", ["provider": "openai"]) == 12)
        #expect(parsed.value("toolformer_provider_failures_total", ["provider": "openai"]) == 2)
        #expect(parsed.value("toolformer_provider_requests_total", ["provider": "mock"]) == 3)
        #expect(parsed.value("toolformer_provider_tokens_total", ["provider": "openai", "direction": "input"]) == 12_000_000)
        #expect(parsed.value("toolformer_provider_tokens_total", ["provider": "openai", "direction": "output"]) == 345)
        #expect(parsed.value("toolformer_provider_tokens_total", ["provider": "mock", "direction": "input"]) == 14)
        #expect(parsed.value("toolformer_http_requests_total") == 31)
        #expect(parsed.value("toolformer_connections_open") == 2)
        #expect(parsed.value("toolformer_requests_inflight") == 1)
        #expect(parsed.value("toolformer_slow_readers_dropped_total") == 4)
        #expect(parsed.value("toolformer_overload_refusals_total") == 6)
        #expect(parsed.value("toolformer_cache_shared_joins_total") == 19)
        #expect(parsed.value("toolformer_queue_running", ["queue": "global"]) == 1)
        #expect(parsed.value("toolformer_queue_queued", ["queue": "global"]) == 0)
        #expect(parsed.value("toolformer_queue_running", ["queue": "weather"]) == 8)
        #expect(parsed.value("toolformer_queue_queued", ["queue": "weather"]) == 3)
        #expect(parsed.value("toolformer_ratelimit_level", ["bucket": "weather"]) == -2.5)
        #expect(parsed.value("toolformer_ratelimit_level", ["bucket": "openai"]) == 50)
        #expect(parsed.value("toolformer_uptime_seconds") == 5.12)
        #expect(parsed.value("toolformer_build_info", ["version": "9.8.7"]) == 1)
        #expect(parsed.samples("toolformer_build_info").count == 1)

        // Integers stay integers in the text: a scraper never sees a rounded counter.
        let text = metrics.exposition(status: sampleStatus())
        #expect(text.contains("toolformer_provider_tokens_total{provider=\"openai\",direction=\"input\"} 12000000\n"))
    }

    @Test func statusIsReadAtEachScrape() throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        _ = metrics.exposition(status: sampleStatus())
        let onlyMock: JSONObject = ["mock": ["requests": 4, "failures": 1, "inputTokens": 1, "outputTokens": 2]]
        let parsed = try parse(metrics.exposition(status: sampleStatus(providers: onlyMock, level: 3.25, hits: 9)))
        #expect(parsed.value("toolformer_cache_hits_total") == 9)
        #expect(parsed.value("toolformer_ratelimit_level", ["bucket": "weather"]) == 3.25)
        #expect(parsed.value("toolformer_provider_requests_total", ["provider": "mock"]) == 4)
        // A provider a reload removed does not linger with its last value.
        #expect(parsed.value("toolformer_provider_requests_total", ["provider": "openai"]) == nil)
    }

    @Test func instancesAreIsolated() throws {
        let first = PrometheusMetrics(methods: knownMethods)
        let second = PrometheusMetrics(methods: knownMethods)
        first.requestFinished(method: "ping", code: 0, duration: .milliseconds(1))
        first.toolRetried(tool: "echo")
        let parsed = try parse(second.exposition(status: [:]))
        #expect(parsed.samples("toolformer_requests_total").isEmpty)
        #expect(parsed.samples("toolformer_tool_retries_total").isEmpty)
    }

    @Test func theSameScrapeTwiceIsTheSameText() {
        let metrics = PrometheusMetrics(methods: knownMethods)
        for tool in ["a", "b", "c", "d", "e"] {
            metrics.toolCallFinished(tool: tool, outcome: "ok", duration: .milliseconds(2))
            metrics.toolCallFinished(tool: tool, outcome: "error", duration: .milliseconds(2))
        }
        let status = sampleStatus()
        #expect(metrics.exposition(status: status) == metrics.exposition(status: status))
    }

    @Test func recordingFromManyTasksAtOnceLosesNothing() async throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<500 {
                        metrics.requestFinished(method: "ping", code: 0, duration: .microseconds(index))
                        metrics.toolCallFinished(tool: "t\(task % 2)", outcome: "ok", duration: .microseconds(index))
                    }
                }
            }
        }
        let parsed = try parse(metrics.exposition(status: [:]))
        #expect(parsed.value("toolformer_requests_total", ["method": "ping", "code": "0"]) == 4000)
        #expect(parsed.value("toolformer_request_duration_seconds_count", ["method": "ping"]) == 4000)
        #expect(parsed.value("toolformer_tool_calls_total", ["tool": "t0", "outcome": "ok"]) == 2000)
    }

    @Test func daemonMetricsAnswersTheExposition() throws {
        let metrics = PrometheusMetrics(methods: [])
        var table = MethodTable()
        table.register("ping", .immediate { _, _ in .object([:]) })
        MetricsMethods.register(in: &table, metrics: metrics) { sampleStatus() }
        #expect(table.methods.contains("daemon/metrics"))
        #expect(!table.requiresAdmin("daemon/metrics"))
        // Registering taught the exporter the table's methods.
        #expect(metrics.methodLabel("ping") == "ping")
        #expect(metrics.methodLabel("daemon/metrics") == "daemon/metrics")

        metrics.requestFinished(method: "ping", code: 0, duration: .milliseconds(1))
        guard case .immediate(let handler)? = table.handler(for: "daemon/metrics") else {
            Issue.record("daemon/metrics is not an immediate handler")
            return
        }
        let context = RequestContext(
            id: 1, method: "daemon/metrics", peer: PeerCredentials(pid: 1, uid: 0, gid: 0), connectionID: 1,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), events: .disabled(1))
        let result = try handler([:], context)
        let text = try #require(result["text"]?.stringValue)
        let parsed = try parse(text)
        #expect(parsed.value("toolformer_requests_total", ["method": "ping", "code": "0"]) == 1)
        #expect(parsed.value("toolformer_cache_hits_total") == 7)
    }

    @Test func labelValuesAreEscaped() throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        metrics.toolRetried(tool: "we\"ird\\na\nme")
        let status: JSONObject = ["queues": ["q\"1": ["running": 1, "queued": 2]]]
        let parsed = try parse(metrics.exposition(status: status))
        #expect(parsed.value("toolformer_tool_retries_total", ["tool": "we\"ird\\na\nme"]) == 1)
        #expect(parsed.value("toolformer_queue_queued", ["queue": "q\"1"]) == 2)
    }
}

/// The reference parser, when python3 has `prometheus_client`; skipped quietly when it does not.
@Suite struct ReferenceParserTests {
    @Test(.timeLimit(.minutes(1))) func prometheusClientParsesTheExposition() async throws {
        let metrics = PrometheusMetrics(methods: knownMethods)
        metrics.requestFinished(method: "ping", code: 0, duration: .microseconds(300))
        metrics.requestFinished(method: "nope", code: -32601, duration: .microseconds(300))
        metrics.toolCallFinished(tool: "weather", outcome: "rate_limited", duration: .milliseconds(5))
        metrics.toolRetried(tool: "weather")
        metrics.rateLimitWaited(bucket: "openai", wait: .milliseconds(20))
        metrics.rateLimitRejected(bucket: "openai")
        let text = metrics.exposition(status: sampleStatus())
        _ = try parse(text)

        let script = """
            import sys
            try:
                from prometheus_client.parser import text_string_to_metric_families
            except ImportError:
                print("UNAVAILABLE")
                sys.exit(0)
            text = open(sys.argv[1]).read()
            families = list(text_string_to_metric_families(text))
            samples = sum(len(f.samples) for f in families)
            found = {}
            for f in families:
                for s in f.samples:
                    found[(s.name, tuple(sorted(s.labels.items())))] = s.value
            print("FAMILIES", len(families))
            print("SAMPLES", samples)
            print("PING", float(found[("toolformer_requests_total", (("code", "0"), ("method", "ping")))]))
            print("TOKENS", float(found[("toolformer_provider_tokens_total", (("direction", "input"), ("provider", "openai")))]))
            print("LEVEL", float(found[("toolformer_ratelimit_level", (("bucket", "weather"),))]))
            """
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("toolformer-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let exposition = directory.appendingPathComponent("metrics.txt")
        let program = directory.appendingPathComponent("check.py")
        try text.write(to: exposition, atomically: true, encoding: .utf8)
        try script.write(to: program, atomically: true, encoding: .utf8)

        guard let (status, output) = await run(["python3", program.path, exposition.path]), status != 127 else {
            print("skipped: python3 is not available")
            return
        }
        if output.contains("UNAVAILABLE") {
            print("skipped: python3 has no prometheus_client (pip install prometheus_client)")
            return
        }
        #expect(status == 0, "prometheus_client refused the exposition:\n\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.contains("FAMILIES 34"), "\(output)")
        #expect(lines.contains("PING 1.0"), "\(output)")
        #expect(lines.contains("TOKENS 12000000.0"), "\(output)")
        #expect(lines.contains("LEVEL -2.5"), "\(output)")
    }

    /// Runs `arguments` through `/usr/bin/env`, waiting without holding a thread; `nil` when it
    /// cannot start.
    private func run(_ arguments: [String]) async -> (Int32, String)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let status: Int32? = await withCheckedContinuation { continuation in
            process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(returning: nil)
            }
        }
        guard let status else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        return (status, String(decoding: data, as: UTF8.self))
    }
}
