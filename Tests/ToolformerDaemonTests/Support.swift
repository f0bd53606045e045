import Testing
#if canImport(Glibc)
import Glibc
#endif
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

/// Reads messages until the response to `id`, returning it and what came before.
func response(to id: RequestID, on connection: ToolformerConnection, timeout: Duration = .seconds(10)) throws -> (
    response: JSONObject, before: [JSONObject]
) {
    var before: [JSONObject] = []
    while true {
        let message = try connection.readMessage(timeout: timeout)
        if message["id"].flatMap(RequestID.init) == id, message["method"] == nil { return (message, before) }
        before.append(message)
    }
}

/// Sends one raw line and reads the next message.
func exchange(_ line: String, on connection: ToolformerConnection) throws -> JSONObject {
    try connection.send(line + "\n")
    return try connection.readMessage(timeout: .seconds(10))
}

/// Checks an error response's code, `data.name` and `id`.
func expectError(
    _ message: JSONObject, code: Int64, name: String, id: JSONValue = .null,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(message["jsonrpc"] == "2.0", sourceLocation: sourceLocation)
    #expect(message["id"] == id, "id", sourceLocation: sourceLocation)
    #expect(message["result"] == nil, sourceLocation: sourceLocation)
    #expect(message["error"]?["code"] == .int(code), "\(message)", sourceLocation: sourceLocation)
    #expect(message["error"]?["data"]?["name"] == .string(name), "\(message)", sourceLocation: sourceLocation)
    #expect(message["error"]?["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
    #expect(message["error"]?["data"]?["retryable"]?.boolValue != nil, sourceLocation: sourceLocation)
}

/// A connection still works: `ping` answers.
func expectAlive(_ connection: ToolformerConnection, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let pong = try connection.call("ping", timeout: .seconds(10))
    #expect(pong == .object([:]), sourceLocation: sourceLocation)
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// A connection the daemon admitted (answered ping), retrying while earlier ones are still closing.
func admittedConnection(_ daemon: TestDaemon) throws -> ToolformerConnection {
    for _ in 0..<200 {
        let connection = try daemon.connect()
        if (try? connection.call("ping", timeout: .seconds(2))) != nil { return connection }
        usleep(10_000)
    }
    throw TestDaemonError("the daemon admitted no connection")
}

/// The daemon's error for a call that should fail; nil (and a recorded issue) if it succeeded.
func rpcError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(CallError) -> JSONValue
) -> ToolformerError? {
    do {
        let result = try body()
        Issue.record("expected an error, got \(result)", sourceLocation: sourceLocation)
        return nil
    } catch {
        guard case .rpc(let rpc) = error else {
            Issue.record("expected an error from the daemon, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
        return rpc
    }
}

