import Histogram
import Synchronization
import ToolformerProtocol

/// Drives a ``LoadSpec`` and merges what every thread recorded into one HDR histogram.
enum LoadGenerator {
    static func newHistogram() -> Histogram<UInt64> {
        // Nanoseconds, up to a minute, three significant digits.
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }

    /// What one connection's thread brings back.
    struct WorkerOutcome: Sendable {
        var histogram = LoadGenerator.newHistogram()
        var completed = 0
        var sampled = 0
        var sampledErrors = 0
        var sampledCached = 0
        var firstError: String?
        var failure: String?
    }

    /// Every thread connects, then waits at the gate until all have; the gate opens with the clock.
    final class Gate: Sendable {
        let connected = Atomic<Int>(0)
        let start = Atomic<UInt64>(0)
        let outcomes = Collector<WorkerOutcome>()

        func waitForStart() -> UInt64 {
            while true {
                let start = start.load(ordering: .acquiring)
                if start != 0 { return start }
                sleep(seconds: 0.0002)
            }
        }
    }

    static func run(_ spec: LoadSpec) throws(BenchIOError) -> LoadResult {
        let gate = Gate()
        var threads: [BenchThread] = []
        for _ in 0..<spec.connections {
            threads.append(BenchThread { worker(spec, gate) })
        }
        while gate.connected.load(ordering: .acquiring) < spec.connections { sleep(seconds: 0.0005) }
        gate.start.store(monotonicNanos(), ordering: .releasing)
        for thread in threads { thread.join() }

        let outcomes = gate.outcomes.all
        if let failure = outcomes.compactMap(\.failure).first { throw BenchIOError(failure) }
        var result = LoadResult(
            connections: spec.connections, depth: spec.depth, seconds: spec.duration, completed: 0,
            histogram: newHistogram(), sampled: 0, sampledErrors: 0, sampledCached: 0)
        for outcome in outcomes {
            result.histogram.add(outcome.histogram)
            result.completed += outcome.completed
            result.sampled += outcome.sampled
            result.sampledErrors += outcome.sampledErrors
            result.sampledCached += outcome.sampledCached
            result.firstError = result.firstError ?? outcome.firstError
        }
        return result
    }

    private static func worker(_ spec: LoadSpec, _ gate: Gate) {
        var outcome = WorkerOutcome()
        let socket: LineSocket
        do {
            socket = try LineSocket(path: spec.socketPath)
        } catch {
            outcome.failure = error.description
            gate.outcomes.append(outcome)
            gate.connected.add(1, ordering: .releasing)
            return
        }
        // Encoded before the clock starts: the hot path only copies bytes.
        let lines = (0..<spec.depth).map { spec.line(Int64($0)) }
        gate.connected.add(1, ordering: .releasing)
        let start = gate.waitForStart()
        let measureStart = start + UInt64(spec.warmup * 1e9)
        let measureEnd = measureStart + UInt64(spec.duration * 1e9)
        do {
            if spec.depth == 1 {
                try requestAfterResponse(socket, lines[0], spec, measureStart, measureEnd, &outcome)
            } else {
                try pipelined(socket, lines, spec, measureStart, measureEnd, &outcome)
            }
        } catch {
            outcome.failure = error.description
        }
        gate.outcomes.append(outcome)
    }

    private static func requestAfterResponse(
        _ socket: LineSocket, _ line: [UInt8], _ spec: LoadSpec, _ measureStart: UInt64, _ measureEnd: UInt64,
        _ outcome: inout WorkerOutcome
    ) throws(BenchIOError) {
        // A copy the hot loop can hand to send(2) without going through a closure each time.
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: line.count, alignment: 1)
        defer { request.deallocate() }
        request.copyBytes(from: line)
        let bytes = UnsafeRawBufferPointer(request)
        var responses = 0
        while true {
            let sent = monotonicNanos()
            try socket.send(bytes)
            let response = try socket.nextLine()
            let received = monotonicNanos()
            if sent >= measureStart && received <= measureEnd {
                _ = outcome.histogram.record(received - sent)
                outcome.completed += 1
            }
            if responses % spec.sampleEvery == 0 { check(response, &outcome) }
            responses += 1
            if received >= measureEnd { return }
        }
    }

    private static func pipelined(
        _ socket: LineSocket, _ lines: [[UInt8]], _ spec: LoadSpec, _ measureStart: UInt64, _ measureEnd: UInt64,
        _ outcome: inout WorkerOutcome
    ) throws(BenchIOError) {
        let depth = lines.count
        var sentAt = [UInt64](repeating: 0, count: depth)
        var output: [UInt8] = []
        output.reserveCapacity(lines.reduce(0) { $0 + $1.count })
        var resend: [Int] = []
        resend.reserveCapacity(depth)
        for line in lines { output.append(contentsOf: line) }
        resend.append(contentsOf: 0..<depth)

        var outstanding = 0
        var responses = 0
        var stopping = false
        while true {
            if !resend.isEmpty {
                let now = monotonicNanos()
                for slot in resend { sentAt[slot] = now }
                try socket.send(output)
                outstanding += resend.count
                output.removeAll(keepingCapacity: true)
                resend.removeAll(keepingCapacity: true)
            }
            if outstanding == 0 { return }
            try socket.fill()
            let received = monotonicNanos()
            if received >= measureEnd { stopping = true }
            while let response = socket.bufferedLine() {
                guard let slot = slotID(response), slot < depth else {
                    check(response, &outcome)
                    throw BenchIOError("a response without a known id: \(LineSocket.text(response))")
                }
                outstanding -= 1
                if sentAt[slot] >= measureStart && received <= measureEnd {
                    _ = outcome.histogram.record(received - sentAt[slot])
                    outcome.completed += 1
                }
                if responses % spec.sampleEvery == 0 { check(response, &outcome) }
                responses += 1
                if !stopping {
                    output.append(contentsOf: lines[slot])
                    resend.append(slot)
                }
            }
        }
    }

    /// The integer after the first `"id":`, without parsing the line. The daemon writes
    /// `{"jsonrpc":"2.0","id":N,` first, and the echo reference returns the request, which starts
    /// the same way, so the search stops within the first few dozen bytes.
    @inline(__always)
    static func slotID(_ line: UnsafeRawBufferPointer) -> Int? {
        let count = line.count
        var index = 0
        while index + 5 < count {
            if line[index] == 0x22, line[index + 1] == 0x69, line[index + 2] == 0x64, line[index + 3] == 0x22,
                line[index + 4] == 0x3A
            {
                var position = index + 5
                var value = 0
                var digits = 0
                while position < count, line[position] >= 0x30, line[position] <= 0x39 {
                    value = value * 10 + Int(line[position] - 0x30)
                    position += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            index += 1
        }
        return nil
    }

    /// Parses a sampled response: an error counts against the run; a cache hit is noted.
    static func check(_ line: UnsafeRawBufferPointer, _ outcome: inout WorkerOutcome) {
        outcome.sampled += 1
        guard let message = LineSocket.parse(line) else {
            outcome.sampledErrors += 1
            outcome.firstError = outcome.firstError ?? "unparsable: \(LineSocket.text(line))"
            return
        }
        if let error = message["error"] {
            outcome.sampledErrors += 1
            outcome.firstError = outcome.firstError ?? error.description
        }
        if message["result"]?["_meta"]?["toolformer"]?["cached"] == .bool(true) { outcome.sampledCached += 1 }
    }
}
