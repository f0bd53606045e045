import ToolformerClient
import ToolformerProtocol

/// A call, batch or orchestrate request read until its response, with its events handed out as
/// they arrive and Ctrl-C turned into `notifications/cancelled` for it.
struct LiveRequest {
    var method: String
    var params: JSONObject
    /// Sends `stream: true`, so the daemon writes events before the response.
    var stream: Bool
    /// nil waits as long as the daemon works on it.
    var wait: Duration?
    /// How often `onTick` runs while nothing arrives (the progress line's clock); nil for never.
    var tick: Duration? = nil

    /// The result, or a failure carrying its exit status (130 after Ctrl-C, once the daemon was told).
    func run(
        on connection: ToolformerConnection, onEvent: (JSONObject) -> Void, onTick: () -> Void = {}
    ) throws(CtlFailure) -> JSONValue {
        let waiter = LineWaiter(connection: connection, interruptFD: Interrupt.install())
        var params = params
        if stream { params["stream"] = true }
        let id: RequestID
        do {
            id = try connection.sendRequest(method, params)
        } catch {
            // A daemon that refused the connection wrote why and closed before our write landed.
            if let refusal = try? connection.readMessage(timeout: .milliseconds(200)), refusal["error"] != nil {
                throw Self.failure(refusal)
            }
            throw CtlFailure(.requestFailed, "\(error)")
        }

        let parser = JSONParser(maxDepth: 512)
        let deadline = wait.map { ContinuousClock.now + $0 }
        while true {
            let wakeup: LineWaiter.Wakeup
            do { wakeup = try waiter.next(until: deadline, tick: tick) } catch { throw CtlFailure(.requestFailed, "\(error)") }
            switch wakeup {
            case .line(let line):
                let message: JSONObject
                do {
                    guard case .object(let object) = try parser.parse(line) else { continue }
                    message = object
                } catch {
                    throw CtlFailure(.requestFailed, ClientError.badMessage(error.message).description)
                }
                if message["method"] == "event", case .object(let event)? = message["params"], event["id"] == id.json {
                    onEvent(event)
                    continue
                }
                guard message["method"] == nil else { continue }
                // An error with a null id is about the connection (refused) or our line.
                if message["id"].flatMap(RequestID.init) == id || (message["id"] == .null && message["error"] != nil) {
                    do { return try ToolformerConnection.unwrap(message) } catch { throw GlobalOptions.failure(for: error) }
                }
            case .tick:
                onTick()
            case .interrupted:
                let confirmed = cancel(id, reason: "interrupted", connection: connection, waiter: waiter)
                throw CtlFailure(.interrupted, confirmed ? "interrupted; the daemon cancelled the request" : "interrupted")
            case .timedOut:
                _ = cancel(id, reason: "the client stopped waiting", connection: connection, waiter: waiter)
                throw CtlFailure(.requestFailed, "no answer within --timeout; asked the daemon to cancel the request")
            case .closed:
                throw CtlFailure(.requestFailed, ClientError.closed.description)
            }
        }
    }

    /// Sends `notifications/cancelled`, then waits briefly for the daemon's -32800 so the request
    /// is known to be gone before this process exits; a second Ctrl-C stops waiting. True once
    /// the daemon answered.
    private func cancel(_ id: RequestID, reason: String, connection: ToolformerConnection, waiter: LineWaiter) -> Bool {
        do {
            try connection.sendNotification("notifications/cancelled", ["requestId": id.json, "reason": .string(reason)])
        } catch {
            return false
        }
        let parser = JSONParser(maxDepth: 512)
        let deadline = ContinuousClock.now + .seconds(1)
        while case .line(let line)? = try? waiter.next(until: deadline, tick: nil) {
            if let message = try? parser.parse(line), message["method"] == nil,
                message["id"].flatMap(RequestID.init) == id
            {
                return true
            }
        }
        return false
    }

    private static func failure(_ response: JSONObject) -> CtlFailure {
        do {
            _ = try ToolformerConnection.unwrap(response)
            return CtlFailure(.requestFailed, "the daemon closed the connection")
        } catch {
            return GlobalOptions.failure(for: error)
        }
    }
}
