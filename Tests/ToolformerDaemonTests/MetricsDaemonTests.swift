import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// daemon/metrics and the /metrics listener, on the real daemon.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct MetricsDaemonTests {
    func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func countersMoveAsCallsAreMade() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let before = try #require(try connection.call("daemon/metrics")["text"]?.stringValue)
        #expect(before.contains("# TYPE toolformer_requests_total counter"))
        for _ in 0..<3 { _ = try connection.call("tools/call", ["name": "echo", "arguments": ["a": 1]]) }
        _ = rpcError { () throws(CallError) in try connection.call("no/such/method") }
        let after = try #require(try connection.call("daemon/metrics")["text"]?.stringValue)
        #expect(value(after, #"toolformer_tool_calls_total{tool="echo",outcome="ok"}"#) == 3)
        #expect(value(after, #"toolformer_requests_total{method="tools/call",code="0"}"#) == 3)
        #expect(value(after, #"toolformer_requests_total{method="other",code="-32601"}"#) == 1)
        #expect(value(after, "toolformer_connections_open") == 1)
    }

    @Test func theListenerServesMetricsOverHTTP() async throws {
        // A free port: bind :0, read it, close, hand it to the daemon.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) == 0 && getsockname(probe, $0, &length) == 0 }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(probe)
        let daemon = try TestDaemon(config: TestDaemon.config(extra: "[metrics]\nlisten = \"127.0.0.1:\(port)\"\n"))
        _ = try daemon.connect().call("ping")
        let output = daemon.directory + "/metrics.txt"
        #expect(try TestDaemon.run(["/usr/bin/curl", "-s", "-i", "-o", output, "http://127.0.0.1:\(port)/metrics"]) == 0)
        let response = try TestDaemon.readFile(output)
        #expect(response.hasPrefix("HTTP/1.1 200") || response.hasPrefix("HTTP/1.0 200"))
        #expect(response.contains("text/plain; version=0.0.4"))
        #expect(response.contains("toolformer_build_info"))
    }
}
