import AsyncHTTPClient
import Foundation
import Logging
import MCP
import NIOCore
import NIOHTTP1
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol

/// The SDK's `Transport` over MCP's Streamable HTTP, on the daemon's shared HTTP client.
///
/// Not the SDK's `HTTPClientTransport`: on Linux it reads each response whole through
/// URLSession and hands an SSE body to the client undecoded, so servers that answer with
/// `text/event-stream` (most do) do not work. Here each message is one POST with
/// `Accept: application/json, text/event-stream`; a JSON reply is delivered as it is, an event
/// stream is parsed as it arrives and each event's data delivered. `Mcp-Session-Id` from the
/// server is sent back on every later request, and `MCP-Protocol-Version` once initialize told
/// it. The configured headers go on every request; their values are never logged.
///
/// Messages the server sends on its own (`notifications/tools/list_changed` above all) come on
/// the optional GET stream, opened once the session is initialized and opened again when it
/// ends (with `Last-Event-ID` when the server numbered its events, backing off up to 30 s while
/// it fails). A server that answers the GET with 405 does not offer one; that is fine.
actor MCPHTTPTransport: Transport {
    nonisolated let logger: Logger
    private let url: String
    private let headers: [String: String]
    private let http: SharedHTTPClient
    private let requestTimeout: Duration
    private var sessionID: String? = nil
    private var protocolVersion: String? = nil
    private var isOpen = true
    private var listening: Task<Void, Never>? = nil
    private var lastEventID: String? = nil
    /// GET streams opened so far (for tests and the debug log).
    private(set) var listenStreamsOpened = 0
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    /// Yields once when the session can go on no longer (the server forgot it).
    nonisolated let failures: AsyncStream<String>
    private let failure: AsyncStream<String>.Continuation

    static let maxBodyBytes = 64 << 20

    init(url: String, headers: [String: String], http: SharedHTTPClient, requestTimeout: Duration, logger: Logger) {
        self.url = url
        self.headers = headers
        self.http = http
        self.requestTimeout = requestTimeout
        self.logger = logger
        (messages, continuation) = AsyncThrowingStream.makeStream(of: Data.self)
        (failures, failure) = AsyncStream.makeStream(of: String.self)
    }

    func connect() async throws {}

    func disconnect() async {
        guard isOpen else { return }
        isOpen = false
        listening?.cancel()
        listening = nil
        // As for the pipe transport: never end the stream normally (the SDK client would spin).
        continuation.finish(throwing: MCPError.connectionClosed)
        // Tell the server the session is over; it may not support that (405), which is fine.
        if let sessionID {
            var request = baseRequest(method: .DELETE)
            request.headers.replaceOrAdd(name: "Mcp-Session-Id", value: sessionID)
            _ = try? await http.fetch(request, deadline: .now() + .seconds(2), maxBodyBytes: 64 << 10)
        }
    }

    func send(_ data: Data) async throws {
        guard isOpen else { throw MCPError.connectionClosed }
        var request = baseRequest(method: .POST)
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        request.headers.replaceOrAdd(name: "Accept", value: "application/json, text/event-stream")
        if let sessionID { request.headers.replaceOrAdd(name: "Mcp-Session-Id", value: sessionID) }
        if let protocolVersion { request.headers.replaceOrAdd(name: "MCP-Protocol-Version", value: protocolVersion) }
        request.body = .bytes(ByteBuffer(bytes: data))

        let response: HTTPClientResponse
        do {
            let timeout = requestTimeout.components
            response = try await http.execute(
                request, deadline: .now() + .nanoseconds(timeout.seconds * 1_000_000_000 + timeout.attoseconds / 1_000_000_000))
        } catch {
            throw MCPError.internalError("HTTP request to the MCP server failed: \(HTTPTransportFailure(error))")
        }
        if let session = response.headers.first(name: "Mcp-Session-Id"), !session.isEmpty, sessionID == nil {
            sessionID = session
        }
        let contentType = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        switch response.status.code {
        case 202:
            _ = try? await response.body.collect(upTo: 64 << 10)
            if listening == nil, protocolVersion != nil, Self.isInitializedNotification(data) {
                listening = Task { await self.listen() }
            }
            return
        case 200..<300:
            break
        case 404 where sessionID != nil:
            // The server no longer knows the session: only a new initialize can go on.
            failure.yield("the server ended the session (HTTP 404)")
            throw MCPError.connectionClosed
        default:
            let body = (try? await response.body.collect(upTo: 4 << 10)).map { String(buffer: $0) } ?? ""
            let detail = body.isEmpty ? "" : ": \(body.prefix(300))"
            throw MCPError.internalError("the MCP server answered HTTP \(response.status.code)\(detail)")
        }

        if contentType.hasPrefix("text/event-stream") {
            var parser = ServerSentEvents()
            for try await chunk in response.body {
                for event in parser.feed(chunk.readableBytesView) where event.event == nil || event.event == "message" {
                    deliver(event.data)
                }
            }
            for event in parser.finish() where event.event == nil || event.event == "message" { deliver(event.data) }
        } else {
            let body = try await response.body.collect(upTo: Self.maxBodyBytes)
            let bytes = Array(body.readableBytesView)
            if !bytes.isEmpty { deliver(bytes) }
        }
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    private static func isInitializedNotification(_ data: Data) -> Bool {
        (try? JSONParser().parse(Array(data)))?["method"] == "notifications/initialized"
    }

    // MARK: The GET stream

    private enum ListenOutcome {
        /// The server offers no GET stream (405), or the session is gone.
        case stop(String)
        /// The stream ended or could not be opened; `received` says whether any event came.
        case again(reason: String, received: Bool)
    }

    /// Keeps a GET stream open while the session lasts.
    private func listen() async {
        var delay = Duration.milliseconds(500)
        while isOpen && !Task.isCancelled {
            switch await listenOnce() {
            case .stop(let reason):
                logger.debug("MCP server GET stream not used", metadata: ["mcp.reason": "\(reason)"])
                return
            case .again(let reason, let received):
                if received { delay = .milliseconds(500) }
                logger.debug("MCP server GET stream ended; opening it again", metadata: [
                    "mcp.reason": "\(reason)", "mcp.retry_in": "\(delay)",
                ])
            }
            guard isOpen, (try? await CancellableSleep.until(.now + delay)) != nil else { return }
            delay = min(delay * 2, .seconds(30))
        }
    }

    private func listenOnce() async -> ListenOutcome {
        var request = baseRequest(method: .GET)
        request.headers.replaceOrAdd(name: "Accept", value: "text/event-stream")
        if let sessionID { request.headers.replaceOrAdd(name: "Mcp-Session-Id", value: sessionID) }
        if let protocolVersion { request.headers.replaceOrAdd(name: "MCP-Protocol-Version", value: protocolVersion) }
        if let lastEventID { request.headers.replaceOrAdd(name: "Last-Event-ID", value: lastEventID) }
        let response: HTTPClientResponse
        do {
            // The deadline is for the response head; the stream itself may stay open for hours.
            response = try await http.execute(request, deadline: .now() + .seconds(30))
        } catch {
            return .again(reason: "\(HTTPTransportFailure(error))", received: false)
        }
        let contentType = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        switch response.status.code {
        case 200..<300 where contentType.hasPrefix("text/event-stream"):
            break
        case 405:
            _ = try? await response.body.collect(upTo: 64 << 10)
            return .stop("the server offers no GET stream (HTTP 405)")
        case 404 where sessionID != nil:
            _ = try? await response.body.collect(upTo: 64 << 10)
            return .stop("the server no longer knows the session (HTTP 404)")
        default:
            _ = try? await response.body.collect(upTo: 64 << 10)
            return .again(reason: "HTTP \(response.status.code), \(contentType.isEmpty ? "no content type" : contentType)", received: false)
        }
        listenStreamsOpened += 1
        var parser = ServerSentEvents()
        var received = false
        do {
            for try await chunk in response.body {
                for event in parser.feed(chunk.readableBytesView) {
                    received = true
                    if let id = event.id { lastEventID = id }
                    if event.event == nil || event.event == "message" { deliver(event.data) }
                }
            }
        } catch {
            return .again(reason: "\(HTTPTransportFailure(error))", received: received)
        }
        return .again(reason: "the server ended the stream", received: received)
    }

    private func deliver(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if protocolVersion == nil, let version = (try? JSONParser().parse(bytes))?["result"]?["protocolVersion"]?.stringValue {
            protocolVersion = version
        }
        continuation.yield(Data(bytes))
    }

    private func baseRequest(method: HTTPMethod) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request.headers.replaceOrAdd(name: name, value: value) }
        return request
    }
}

/// A `text/event-stream` parser: lines, `data:` joined by newlines, events ended by a blank line.
struct ServerSentEvents {
    struct Event: Equatable {
        var event: String?
        var data: [UInt8]
        /// The event's `id:`, when it had one (sent back as `Last-Event-ID` to resume).
        var id: String? = nil
    }

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var event: String? = nil
    private var id: String? = nil

    mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                if let finished = take(line) { events.append(finished) }
                line.removeAll(keepingCapacity: true)
            } else {
                line.append(byte)
            }
        }
        return events
    }

    mutating func finish() -> [Event] {
        var events: [Event] = []
        if !line.isEmpty, let finished = take(line) { events.append(finished) }
        line.removeAll()
        if let finished = take([]) { events.append(finished) }
        return events
    }

    /// One line; a blank one ends the event.
    private mutating func take(_ line: [UInt8]) -> Event? {
        if line.isEmpty {
            defer {
                data.removeAll()
                hasData = false
                event = nil
                id = nil
            }
            return hasData ? Event(event: event, data: data, id: id) : nil
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let field = String(decoding: line[..<colon], as: UTF8.self)
        var value = colon < line.endIndex ? Array(line[(colon + 1)...]) : []
        if value.first == UInt8(ascii: " ") { value.removeFirst() }
        switch field {
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data += value
            hasData = true
        case "event":
            event = String(decoding: value, as: UTF8.self)
        case "id" where !value.contains(0):
            id = String(decoding: value, as: UTF8.self)
        default:
            break
        }
        return nil
    }
}
