import NIOCore
import Synchronization
public import ToolformerCore
import ToolformerProtocol

/// Limits a connection reads when it is accepted; a reload changes them for new connections.
public struct ServerLimits: Sendable {
    public var maxConnections: Int
    public var maxLineBytes: Int
    public var maxInflightPerConnection: Int
    public var drainTimeout: Duration
    public var access: AccessPolicy

    public init(_ config: ToolformerConfig, daemonUID: UInt32) {
        maxConnections = config.server.maxConnections
        maxLineBytes = config.server.maxLineBytes
        maxInflightPerConnection = config.server.maxInflightPerConnection
        drainTimeout = .milliseconds(config.server.drainTimeoutMs)
        access = AccessPolicy(config.server, daemonUID: daemonUID)
    }
}

/// Counters and the connection table every connection shares.
public final class ServerState: Sendable {
    private let connectionCount = Atomic<Int>(0)
    private let inflightCount = Atomic<Int>(0)
    private let nextConnectionID = Atomic<UInt64>(1)
    private let nextRef = Atomic<UInt64>(1)
    private let drainingFlag = Atomic<Bool>(false)
    private let channels = Mutex<[UInt64: ConnectionInfo]>([:])
    private let limitsBox: Mutex<ServerLimits>
    public let started = ContinuousClock.now

    /// A request in flight, as `daemon/requests` lists it and `daemon/cancel` finds it.
    struct RequestRecord: Sendable {
        var ref: UInt64
        var method: String
        var tool: String?
        var peer: PeerCredentials
        var startedUnixMs: Int64
        /// Cancels it as `notifications/cancelled` would, on its connection's event loop.
        var cancel: @Sendable () -> Void
    }

    private let requests = Mutex<[UInt64: RequestRecord]>([:])

    func track(_ record: RequestRecord) { requests.withLock { $0[record.ref] = record } }
    func untrack(_ ref: UInt64) { requests.withLock { _ = $0.removeValue(forKey: ref) } }
    var trackedRequests: [RequestRecord] { requests.withLock { Array($0.values) }.sorted { $0.ref < $1.ref } }
    func trackedRequest(_ ref: UInt64) -> RequestRecord? { requests.withLock { $0[ref] } }

    struct ConnectionInfo: Sendable {
        var channel: any Channel
        var peer: PeerCredentials
        /// The client sent `initialize` (an MCP client): it hears `notifications/tools/list_changed`.
        var listChanged = false
    }

    public init(limits: ServerLimits) { limitsBox = Mutex(limits) }

    public var limits: ServerLimits {
        get { limitsBox.withLock { $0 } }
        set { limitsBox.withLock { $0 = newValue } }
    }

    public var connections: Int { connectionCount.load(ordering: .relaxed) }
    public var inflight: Int { inflightCount.load(ordering: .relaxed) }
    public var isDraining: Bool { drainingFlag.load(ordering: .acquiring) }

    func startDraining() { drainingFlag.store(true, ordering: .releasing) }

    func makeConnectionID() -> UInt64 { nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue }
    func makeRef() -> UInt64 { nextRef.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Counts a new connection unless that would pass `max`.
    func admitConnection(max: Int) -> Bool {
        var current = connectionCount.load(ordering: .relaxed)
        while current < max {
            let (exchanged, original) = connectionCount.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func register(_ id: UInt64, channel: any Channel, peer: PeerCredentials) {
        channels.withLock { $0[id] = ConnectionInfo(channel: channel, peer: peer) }
    }

    func unregister(_ id: UInt64) {
        let removed = channels.withLock { $0.removeValue(forKey: id) }
        if removed != nil { connectionCount.subtract(1, ordering: .relaxed) }
    }

    func requestStarted() { inflightCount.add(1, ordering: .relaxed) }
    func requestFinished() { inflightCount.subtract(1, ordering: .relaxed) }

    /// From now on, `id` hears `notifications/tools/list_changed`.
    func subscribeToToolListChanges(_ id: UInt64) {
        channels.withLock { $0[id]?.listChanged = true }
    }

    /// Sends `notifications/tools/list_changed` to every connection that sent `initialize`.
    /// Plain JSON-RPC clients (toolformerctl, scripts) never asked for it and do not get it.
    /// Returns how many connections it was sent to.
    @discardableResult
    public func notifyToolListChanged() -> Int {
        let subscribed = channels.withLock { $0.values.filter(\.listChanged).map(\.channel) }
        let line = MessageEncoder.notification(method: "notifications/tools/list_changed", params: [:])
        for channel in subscribed {
            channel.writeAndFlush(channel.allocator.buffer(bytes: line), promise: nil)
        }
        return subscribed.count
    }

    var allChannels: [any Channel] { channels.withLock { $0.values.map(\.channel) } }
    var connectionInfos: [UInt64: ConnectionInfo] { channels.withLock { $0 } }
}
