import ToolformerProtocol

/// What every scenario shares: the servers, the timing options and where text goes.
struct BenchContext {
    var daemon: DaemonUnderTest
    var reference: EchoReference
    /// Seconds measured per load, after `warmup` seconds of the same load.
    var duration: Double
    var warmup: Double
    var runs: Int
    var quick: Bool
    var output: Output
    /// For scenarios that start daemons of their own (`cache-memory`, `startup`); nil with `--socket`.
    var daemonBinary: String?

    func spec(socket: String, connections: Int, depth: Int, line: @escaping @Sendable (Int64) -> [UInt8]) -> LoadSpec {
        LoadSpec(socketPath: socket, connections: connections, depth: depth, warmup: warmup, duration: duration, line: line)
    }
}
