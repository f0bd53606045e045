public import Logging
public import ToolformerProtocol

/// What a method handler knows about the request it serves.
public struct RequestContext: Sendable {
    public var id: RequestID
    public var method: String
    public var peer: PeerCredentials
    public var connectionID: UInt64
    /// Carries `request.id`, `peer.uid` and `peer.pid`, so every line a request causes ties back to it.
    public var logger: Logger
    /// Streaming events go here; it drops them unless the request asked for `stream: true`.
    public var events: EventSink

    public init(
        id: RequestID, method: String, peer: PeerCredentials, connectionID: UInt64, logger: Logger, events: EventSink
    ) {
        self.id = id
        self.method = method
        self.peer = peer
        self.connectionID = connectionID
        self.logger = logger
        self.events = events
    }
}
