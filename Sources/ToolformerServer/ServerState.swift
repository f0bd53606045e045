import NIOCore
import Synchronization
public import ToolformerCore

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

    struct ConnectionInfo: Sendable {
        var channel: any Channel
        var peer: PeerCredentials
        var opened: ContinuousClock.Instant
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
        channels.withLock { $0[id] = ConnectionInfo(channel: channel, peer: peer, opened: .now) }
    }

    func unregister(_ id: UInt64) {
        let removed = channels.withLock { $0.removeValue(forKey: id) }
        if removed != nil { connectionCount.subtract(1, ordering: .relaxed) }
    }

    func releaseUncountedSlot() { connectionCount.subtract(1, ordering: .relaxed) }

    func requestStarted() { inflightCount.add(1, ordering: .relaxed) }
    func requestFinished() { inflightCount.subtract(1, ordering: .relaxed) }

    var allChannels: [any Channel] { channels.withLock { $0.values.map(\.channel) } }
    var connectionInfos: [UInt64: ConnectionInfo] { channels.withLock { $0 } }
}
