/// One load: `connections` OS threads, each with its own socket, sending pre-encoded request lines
/// either one after the other's response (`depth` 1) or keeping `depth` requests in flight and
/// matching responses by id.
struct LoadSpec: Sendable {
    var socketPath: String
    var connections: Int
    var depth: Int
    /// Seconds of load before and during the measurement.
    var warmup: Double
    var duration: Double
    /// The request line for an id (with its newline). Called once per slot, before the clock starts.
    var line: @Sendable (Int64) -> [UInt8]
    /// Every `sampleEvery`th response is parsed and checked (the first one always is).
    var sampleEvery = 128
}
