import Histogram
import ToolformerProtocol

/// What a load measured, all connections merged.
struct LoadResult: Sendable {
    var connections: Int
    var depth: Int
    var seconds: Double
    var completed: Int
    var histogram: Histogram<UInt64>
    var sampled: Int
    var sampledErrors: Int
    var sampledCached: Int
    var firstError: String?

    var roundTripsPerSecond: Double { Double(completed) / seconds }
    /// Latency percentiles in microseconds.
    func micros(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1000 }
    var p50: Double { micros(50) }
    var p99: Double { micros(99) }
    var p999: Double { micros(99.9) }

    var json: JSONValue {
        [
            "connections": .int(Int64(connections)), "depth": .int(Int64(depth)),
            "roundTripsPerSecond": .double(roundTripsPerSecond.rounded()),
            "p50Us": .double(p50.roundedTo(1)), "p99Us": .double(p99.roundedTo(1)), "p999Us": .double(p999.roundedTo(1)),
            "maxUs": .double((Double(histogram.max) / 1000).roundedTo(1)),
            "completed": .int(Int64(completed)), "seconds": .double(seconds.roundedTo(3)),
            "sampled": .int(Int64(sampled)), "sampledErrors": .int(Int64(sampledErrors)),
            "sampledCached": .int(Int64(sampledCached)),
        ]
    }
}
