import ToolformerProtocol

/// The live display of a batch: one line rewritten in place with `\r`.
///
/// ```
/// batch 12/40 done, 2 errors, 5 cached, 1.3 s
/// ```
///
/// No "running" count: a call that ends at the request level (its deadline, a rate limit) sends
/// `tool.started` but no `tool.finished`, so started minus finished would overcount.
final class BatchProgress {
    private let total: Int
    private let started = ContinuousClock.now
    private var finished: Set<String> = []
    private var errors = 0
    private var cached = 0
    private var drawn = false

    init(total: Int) { self.total = total }

    func show(_ event: JSONObject) {
        guard event["type"] == "tool.finished", finished.insert(event["callId"]?.stringValue ?? "").inserted else { return }
        if event["isError"]?.boolValue == true { errors += 1 }
        if event["cached"]?.boolValue == true { cached += 1 }
        draw()
    }

    /// Redraws with the time elapsed, between events.
    func draw() {
        let line = "batch \(finished.count)/\(total) done, \(errors) error\(errors == 1 ? "" : "s"), \(cached) cached, "
            + Format.elapsed(ContinuousClock.now - started)
        // \r to the line's start, ESC[K to clear what a longer line left.
        Output.write(fd: 1, "\r\u{1B}[K" + line)
        drawn = true
    }

    /// Draws the last line from the results themselves: a call that failed at the request level
    /// (its deadline, a rate limit) has no `tool.finished` event. Then ends the line.
    func finish(_ results: [ToolResult]) {
        if drawn {
            finished = Set(results.indices.map(String.init))
            errors = results.filter(\.isError).count
            cached = results.filter { !$0.isError && $0.cached }.count
            draw()
        }
        end()
    }

    /// Ends the line so what follows starts on its own.
    func end() {
        if drawn { Output.write(fd: 1, "\n") }
        drawn = false
    }
}
