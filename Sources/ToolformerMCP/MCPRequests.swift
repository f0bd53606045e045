import MCP

/// Awaiting the SDK's requests so that cancellation and timeouts reach the server.
///
/// `Client`'s convenience methods await an unstructured task: cancelling the caller neither stops
/// the wait nor tells the server. Here a request is sent for its `RequestContext`, and when the
/// waiting task is cancelled, `cancelRequest` both ends the wait and sends
/// `notifications/cancelled` for that request id.
enum MCPRequests {
    struct TimedOut: Error, CustomStringConvertible {
        var what: String
        var after: Duration
        var description: String { "\(what) got no answer within \(after)" }
    }

    static func value<Result: Sendable>(
        of context: RequestContext<Result>, on client: Client, reason: String = "cancelled by toolformerd"
    ) async throws -> Result {
        try await withTaskCancellationHandler {
            try await context.value
        } onCancel: {
            // onCancel is synchronous and the client is an actor: this short task only delivers
            // the cancellation, and ends once the notification is written.
            Task { try? await client.cancelRequest(context.requestID, reason: reason) }
        }
    }

    /// Sends `request` and waits at most `timeout` for its answer; past that the request is
    /// cancelled (the server is told) and `TimedOut` thrown.
    static func send<M: MCP.Method>(
        _ request: Request<M>, on client: Client, timeout: Duration, what: String
    ) async throws -> M.Result {
        let context = try await client.send(request)
        return try await withThrowingTaskGroup(of: M.Result?.self) { group in
            group.addTask { try await value(of: context, on: client, reason: "\(what) timed out") }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TimedOut(what: what, after: timeout)
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let next { return next }
            }
            throw CancellationError()
        }
    }
}
