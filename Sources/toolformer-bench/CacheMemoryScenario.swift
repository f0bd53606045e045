import ToolformerProtocol

/// `cache-memory`: the daemon's resident memory idle, and after 100,000 distinct cached `echo`
/// results whose JSON is exactly 1 KiB each; the growth per entry is compared with those 1,024 bytes.
/// Each run starts a fresh daemon, so "idle" means just started and answered one `ping`.
enum CacheMemoryScenario {
    static let payloadBytes = 1024

    static func run(_ context: BenchContext) throws -> ScenarioOutcome {
        var outcome = ScenarioOutcome(name: "cache-memory")
        let entries = context.quick ? 2000 : 100_000
        // With --socket there is one daemon, already warm: one run, "idle" being whatever it holds now.
        let runs = context.daemonBinary == nil ? 1 : context.runs
        var idles: [Int] = []
        var afters: [Int] = []
        var idleSplit: [(anonymous: Int, file: Int)] = []
        var cacheActive = false
        var status: JSONValue = .null
        var resultBytes = 0
        for run in 0..<runs {
            let daemon = context.daemonBinary == nil ? context.daemon : try DaemonUnderTest(config: BenchConfig.text)
            defer { if daemon !== context.daemon { daemon.stop() } }
            _ = try daemon.connect().call("ping", [:])
            sleep(seconds: context.quick ? 0.1 : 0.5)
            guard let idle = daemon.memory else { throw BenchIOError("cannot read /proc/PID/status of the daemon") }

            let nonce = UInt64(truncatingIfNeeded: monotonicNanos()) &+ UInt64(run)
            // The probe: the same call twice; the second is a hit when this build caches.
            let probe = try daemon.connect()
            let probeLine = line(entry: -1, nonce: nonce)
            for id in 1...2 {
                try probe.send(probeLine(Int64(id)))
                let response = try probe.nextLine()
                guard let message = LineSocket.parse(response), message["error"] == nil else {
                    throw BenchIOError("cache-memory: the daemon answered \(LineSocket.text(response))")
                }
                resultBytes = JSONWriter.bytes(message["result"] ?? .null).count
                cacheActive = message["result"]?["_meta"]?["toolformer"]?["cached"] == .bool(true)
            }

            try fill(socketPath: daemon.socketPath, entries: entries, nonce: nonce)
            sleep(seconds: context.quick ? 0.1 : 0.5)
            guard let after = daemon.memory else { throw BenchIOError("cannot read /proc/PID/status of the daemon") }
            status = try daemon.connect().call("daemon/status", [:])["result"]?["cache"] ?? .null
            idles.append(idle.rss)
            afters.append(after.rss)
            idleSplit.append((idle.anonymous, idle.rss - idle.anonymous))
            context.output.progress("  cache-memory run \(run + 1): idle \(Format.mebibytes(idle.rss)), after \(entries) entries \(Format.mebibytes(after.rss))")
        }
        let index = medianIndex(zip(idles, afters).map { Double($1 - $0) })
        let idleIndex = medianIndex(idles.map(Double.init))
        let idle = idles[idleIndex]
        let growth = afters[index] - idles[index]
        let perEntry = Double(growth) / Double(entries)
        let ratio = perEntry / Double(payloadBytes)
        outcome.metrics["cacheActive"] = cacheActive ? 1 : 0
        if context.daemonBinary == nil {
            // A daemon that already served the other scenarios: neither idle nor fresh.
            outcome.note = "daemon at --socket: 'idle' is its memory now, and growth reuses memory it freed before; not judged"
        } else {
            outcome.metrics["idleRSS"] = Double(idle)
            if cacheActive { outcome.metrics["bytesPerEntryRatio"] = ratio }
        }
        if !cacheActive {
            outcome.note = "result cache not available in this build: the growth is what 'entries' uncached calls leave behind"
        }
        outcome.json = [
            "entries": .int(Int64(entries)), "payloadBytes": .int(Int64(payloadBytes)),
            "responseResultBytes": .int(Int64(resultBytes)), "cacheActive": .bool(cacheActive),
            "idleRSSBytes": .int(Int64(idle)), "afterRSSBytes": .int(Int64(afters[index])),
            "idleRssAnonBytes": .int(Int64(idleSplit[idleIndex].anonymous)),
            "idleRssFileBytes": .int(Int64(idleSplit[idleIndex].file)),
            "growthBytes": .int(Int64(growth)), "bytesPerEntry": .double(perEntry.roundedTo(1)),
            "ratioToPayload": .double(ratio.roundedTo(3)), "daemonCacheStatus": status,
            "runIdleRSSBytes": .array(idles.map { .int(Int64($0)) }), "runAfterRSSBytes": .array(afters.map { .int(Int64($0)) }),
        ]
        let accounted = (status["bytes"]?.numberValue).flatMap { bytes in
            (status["entries"]?.numberValue).map { bytes / max($0, 1) }
        }
        if let accounted { outcome.json["cacheAccountedBytesPerEntry"] = .double(accounted.roundedTo(1)) }
        var table = TextTable([
            "entries x 1 KiB", "idle RSS", "(anon + file)", "RSS after", "bytes/entry", "x payload", "cache's own count", "cache",
        ])
        table.add([
            "\(entries)", Format.mebibytes(idle),
            Format.mebibytes(idleSplit[idleIndex].anonymous) + " + " + Format.mebibytes(idleSplit[idleIndex].file),
            Format.mebibytes(afters[index]), Format.fixed(perEntry, 0), Format.ratio(ratio),
            accounted.map { Format.fixed($0, 0) + " B/entry" } ?? "-", cacheActive ? "active" : "not in this build",
        ])
        outcome.table = table.text
        return outcome
    }

    /// The request for entry `entry`: `echo` with arguments whose JSON is exactly 1,024 bytes,
    /// `{"k":"<8 digits>","p":"<1,001 random letters>"}`, distinct per entry and per run.
    static func line(entry: Int, nonce: UInt64) -> @Sendable (Int64) -> [UInt8] {
        var state = nonce ^ (UInt64(bitPattern: Int64(entry)) &* 0x9E37_79B9_7F4A_7C15) | 1
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".utf8)
        var letters = [UInt8](repeating: 0, count: 1001)
        for index in letters.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            letters[index] = alphabet[Int(state & 63)]
        }
        let key = entry < 0 ? "probe---" : String(repeating: "0", count: max(0, 8 - String(entry).count)) + String(entry)
        let arguments: JSONValue = ["k": .string(key), "p": .string(String(decoding: letters, as: UTF8.self))]
        assert(JSONWriter.bytes(arguments).count == payloadBytes)
        let params: JSONObject = ["name": "echo", "arguments": arguments]
        return { MessageEncoder.request(id: .int($0), method: "tools/call", params: params) }
    }

    /// Sends `entries` distinct calls over two connections, 16 in flight on each.
    static func fill(socketPath: String, entries: Int, nonce: UInt64) throws {
        let connections = 2
        let depth = 16
        let failures = Collector<String>()
        var threads: [BenchThread] = []
        for thread in 0..<connections {
            threads.append(BenchThread {
                do {
                    let socket = try LineSocket(path: socketPath)
                    var next = thread
                    var outstanding = 0
                    var answered = 0
                    while next < entries || outstanding > 0 {
                        var batch: [UInt8] = []
                        while outstanding < depth && next < entries {
                            batch += line(entry: next, nonce: nonce)(Int64(next))
                            next += connections
                            outstanding += 1
                        }
                        if !batch.isEmpty { try socket.send(batch) }
                        try socket.fill()
                        while let response = socket.bufferedLine() {
                            outstanding -= 1
                            answered += 1
                            if answered % 100 == 1, LineSocket.parse(response)?["error"] != nil {
                                throw BenchIOError("cache-memory: the daemon answered \(LineSocket.text(response))")
                            }
                        }
                    }
                } catch {
                    failures.append("\(error)")
                }
            })
        }
        for thread in threads { thread.join() }
        if let failure = failures.all.first { throw BenchIOError(failure) }
    }
}
