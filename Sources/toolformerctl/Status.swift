import ArgumentParser
import ToolformerProtocol

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the daemon is doing: connections, requests, cache, queues, limits, providers, MCP servers.",
        discussion: """
            A summary of daemon/status. --json prints all of it, including per-connection peers \
            and the cache's full counters. The cache's hit rate is hits / (hits + misses). A \
            rate-limit level below zero means callers are already waiting for it.
            """)
    @OptionGroup var options: GlobalOptions

    func run() throws {
        let status = try options.call("daemon/status")
        if options.json {
            Output.line(status.description)
            return
        }
        for line in Self.summary(status, socket: options.socketPath) { Output.line(line) }
    }

    static func summary(_ status: JSONValue, socket: String) -> [String] {
        func int(_ value: JSONValue?) -> Int64 { value?.intValue ?? 0 }
        var lines = [
            "toolformerd \(status["version"]?.stringValue ?? "?"), pid \(int(status["pid"])), up \(Format.duration(milliseconds: int(status["uptimeMs"])))"
        ]
        var rows: [[String]] = [["socket", socket], ["connections", String(int(status["connections"]))]]
        var inflight = String(int(status["inflight"]))
        if let byTool = status["inflightByTool"]?.objectValue, !byTool.isEmpty {
            inflight += " (" + byTool.map { "\($0.key) \(Format.number($0.value))" }.joined(separator: ", ") + ")"
        }
        rows.append(["in flight", inflight])
        rows.append(["draining", status["draining"]?.boolValue == true ? "yes" : "no"])
        if let tools = status["tools"]?.intValue { rows.append(["tools", String(tools)]) }
        lines += rows.map(Self.row)

        if let cache = status["cache"] {
            lines.append("cache")
            var rows: [[String]] = []
            var entries = "\(int(cache["entries"]))"
            if let max = cache["maxEntries"]?.intValue { entries += " of \(max)" }
            entries += ", " + Format.bytes(int(cache["bytes"]))
            if let max = cache["maxBytes"]?.intValue { entries += " of " + Format.bytes(max) }
            rows.append(["entries", entries])
            let hits = int(cache["hits"])
            let misses = int(cache["misses"])
            rows.append(["hit rate", "\(Format.percent(hits, of: hits + misses) ?? "n/a") (\(Format.count(hits, "hit")), \(Format.count(misses, "miss", plural: "misses")))"])
            rows.append(["evicted", "\(int(cache["evictions"])), expired \(int(cache["expired"])), shared in flight \(int(cache["sharedInFlight"])), joined \(int(cache["sharedJoins"]))"])
            if let disk = cache["disk"]?.objectValue {
                rows.append(["disk", disk.map { "\($0.key) \(Format.number($0.value))" }.joined(separator: ", ")])
            }
            lines += rows.map(Self.row)
        }

        if let cluster = status["cluster"]?.objectValue {
            lines.append("cluster")
            var state = cluster["state"]?.stringValue ?? "?"
            if let redis = cluster["redis"]?.stringValue { state += " on \(redis)" }
            if let rtt = cluster["rttMs"] { state += ", round trip \(Format.number(rtt)) ms" }
            var rows: [[String]] = [["state", state]]
            if let reason = cluster["reason"]?.stringValue { rows.append(["reason", Format.oneLine(reason, limit: 100)]) }
            rows.append([
                "shared",
                Format.count(int(cluster["sharedHits"]), "hit") + ", " + Format.count(int(cluster["leaseWaits"]), "lease wait") + ", "
                    + Format.count(int(cluster["fallbacks"]), "fallback") + ", degraded \(int(cluster["degradations"]))x",
            ])
            lines += rows.map(Self.row)
        }

        if let queues = status["queues"]?.objectValue, !queues.isEmpty {
            lines.append("queues")
            lines += queues.map {
                Self.row([$0.key, "\(int($0.value["running"])) running of \(int($0.value["limit"])), \(int($0.value["queued"])) queued"])
            }
        }

        if let limits = status["rateLimits"]?.objectValue, !limits.isEmpty {
            lines.append("rate limits")
            lines += limits.map { name, limit in
                var text = "level \(Format.number(limit["level"])) of \(Format.number(limit["capacity"]))"
                if let rate = limit["ratePerSecond"] { text += ", \(Format.number(rate))/s" }
                if let wait = limit["maxWaitMs"]?.intValue { text += ", waits up to \(wait) ms" }
                if limit["shared"] == true { text += ", shared (\(limit["mode"]?.stringValue ?? "?"))" }
                return Self.row([name, text])
            }
        }

        if let providers = status["providers"]?.objectValue, !providers.isEmpty {
            lines.append("providers")
            var rows: [[String]] = []
            for (name, provider) in providers {
                rows.append([
                    name,
                    "\(provider["kind"]?.stringValue ?? "?") (\(provider["model"]?.stringValue ?? "?")): "
                        + Format.count(int(provider["requests"]), "request") + ", " + Format.count(int(provider["failures"]), "failure") + ", "
                        + "\(int(provider["inputTokens"])) in / \(int(provider["outputTokens"])) out tokens"
                        + (int(provider["cacheHits"]) > 0 ? ", " + Format.count(int(provider["cacheHits"]), "cache hit") : ""),
                ])
                if let error = provider["lastError"], !error.isNull {
                    var text = "last error: " + Format.oneLine(error["message"]?.stringValue ?? "?", limit: 100)
                    if let code = error["status"]?.intValue { text += " (HTTP \(code))" }
                    if let at = error["atUnixMs"]?.intValue { text += ", " + Format.duration(milliseconds: max(WallClock.unixMilliseconds() - at, 0)) + " ago" }
                    rows.append(["", text])
                }
            }
            lines += rows.map(Self.row)
        }

        if let servers = status["mcpServers"]?.objectValue, !servers.isEmpty {
            lines.append("mcp servers")
            var rows: [[String]] = []
            for (name, server) in servers {
                var text = (server["state"]?.stringValue ?? "?") + ": " + Format.count(int(server["tools"]), "tool")
                if let pid = server["pid"]?.intValue { text += ", pid \(pid)" }
                if int(server["restarts"]) > 0 { text += ", " + Format.count(int(server["restarts"]), "restart") }
                rows.append([name, text])
                if let error = server["lastError"]?.stringValue {
                    rows.append(["", "last error: " + Format.oneLine(error, limit: 100)])
                }
            }
            lines += rows.map(Self.row)
        }

        if let pool = status["pools"]?["http"] {
            lines.append("http pool")
            lines.append(Self.row([
                "requests",
                "\(int(pool["requests"])) (\(int(pool["responded"])) answered, \(int(pool["failed"])) failed, \(int(pool["cancelled"])) cancelled), \(int(pool["inFlight"])) in flight",
            ]))
        }

        if let hedges = status["hedges"], let started = hedges["started"]?.intValue, started > 0 {
            lines.append("hedges")
            lines.append(Self.row(["started", "\(started), won \(int(hedges["won"]))"]))
        }
        return lines
    }

    /// `  label        value`: one label column for every section, so the values line up.
    private static func row(_ cells: [String]) -> String {
        let label = cells.first ?? ""
        let padded = label.count < 14 ? label + String(repeating: " ", count: 14 - label.count) : label + " "
        return "  " + padded + cells.dropFirst().joined(separator: " ")
    }
}
