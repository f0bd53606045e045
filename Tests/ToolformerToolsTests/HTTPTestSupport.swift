import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOPosix
import Synchronization
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol
import ToolformerTesting
import ToolformerTools

/// The shared in-memory logs (ToolformerTesting), under the name these tests use.
typealias HTTPTestLogs = RecordingLogs

let httpTestQuietLogger = RecordingLogs.quiet

/// Runs `body` with a shared client that is shut down afterwards, whatever happens.
func withHTTPClient<T>(
    _ configuration: ToolformerConfig.HTTP = ToolformerConfig.HTTP(), logger: Logger = httpTestQuietLogger,
    _ body: (SharedHTTPClient) async throws -> T
) async throws -> T {
    let client = SharedHTTPClient(
        configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// A `kind = "http"` tool's two configuration parts.
func httpToolConfig(
    name: String = "web", method: String = "GET", url: String, headers: [String: String] = [:],
    inputSchema: String? = nil
) -> (ToolConfig, ToolConfig.HTTP) {
    var http = ToolConfig.HTTP(url: url)
    http.method = method
    http.headers = headers
    var config = ToolConfig(name: name, kind: .http(http))
    config.inputSchema = inputSchema
    config.timeoutMs = 10_000
    return (config, http)
}

/// A `ToolFailure` thrown by `body`, or `nil` when it returned or threw something else.
func httpToolFailure(_ body: () async throws -> ToolOutput) async -> ToolFailure? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error as? ToolFailure
    }
}

/// A fresh directory under the temporary directory.
func makeHTTPTestDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.path + "/toolformer-http-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A port on 127.0.0.1 that refuses connections, and that no other test can take: a socket bound
/// to it that never listens, held open until the process ends. (A port freed by a closed server
/// can be bound again by another test running in parallel, which then answers or hangs.)
func closedLocalPort() async throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
