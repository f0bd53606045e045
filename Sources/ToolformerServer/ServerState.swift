import NIOCore
import Synchronization
public import ToolformerCore
import ToolformerProtocol

/// Limits a connection reads when it is accepted; a reload changes them for new connections.
public struct ServerLimits: Sendable {
    public var maxConnections: Int
    public var maxLineBytes: Int
    public var maxInflightPerConnection: Int
    public var maxConnectionsPerUid: Int
    public var slowReaderTimeout: Duration
    public var drainTimeout: Duration
    public var access: AccessPolicy

    public init(_ config: ToolformerConfig, daemonUID: UInt32) {
        maxConnections = config.server.maxConnections
        maxLineBytes = config.server.maxLineBytes
        maxInflightPerConnection = config.server.maxInflightPerConnection
        maxConnectionsPerUid = config.server.maxConnectionsPerUid
        slowReaderTimeout = .milliseconds(config.server.slowReaderTimeoutMs)
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
    private let connectionsByUid = Mutex<[UInt32: Int]>([:])
    private let slowReadersClosed = Atomic<Int>(0)
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

    /// Why a connection was not admitted.
    enum Refusal: Sendable, Equatable {
        case tooManyConnections
        case tooManyForUid
    }

    /// Counts a new connection of `uid` unless that would pass `max` in all or `maxPerUid` for
    /// that uid. An admitted connection must later be ``register(_:channel:peer:)``ed and
    /// ``unregister(_:)``ed, which gives both counts back.
    func admitConnection(uid: UInt32, max: Int, maxPerUid: Int) -> Refusal? {
        var current = connectionCount.load(ordering: .relaxed)
        while true {
            guard current < max else { return .tooManyConnections }
            let (exchanged, original) = connectionCount.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        let admitted = connectionsByUid.withLock { counts in
            guard counts[uid, default: 0] < maxPerUid else { return false }
            counts[uid, default: 0] += 1
            return true
        }
        if admitted { return nil }
        connectionCount.subtract(1, ordering: .relaxed)
        return .tooManyForUid
    }

    func register(_ id: UInt64, channel: any Channel, peer: PeerCredentials) {
        channels.withLock { $0[id] = ConnectionInfo(channel: channel, peer: peer) }
    }

    func unregister(_ id: UInt64) {
        guard let removed = channels.withLock({ $0.removeValue(forKey: id) }) else { return }
        connectionsByUid.withLock { counts in
            let left = counts[removed.peer.uid, default: 1] - 1
            counts[removed.peer.uid] = left > 0 ? left : nil
        }
        connectionCount.subtract(1, ordering: .relaxed)
    }

    /// Connections open per peer uid.
    public var connectionsPerUid: [UInt32: Int] { connectionsByUid.withLock { $0 } }

    func slowReaderClosed() { slowReadersClosed.add(1, ordering: .relaxed) }
    /// Connections closed because their client left answers unread past the timeout.
    public var slowReadersDropped: Int { slowReadersClosed.load(ordering: .relaxed) }

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
