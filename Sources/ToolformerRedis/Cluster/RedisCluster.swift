public import Logging
public import ServiceLifecycle
import ToolformerCore
public import ToolformerProtocol
import Synchronization

/// The daemon's link to the cluster's Redis: which mode it is in, and the one place that decides
/// when to stop asking Redis and when to start again.
///
/// Shared mode: the cache tier, leases and shared buckets use Redis. The first command that
/// cannot reach Redis (refused, closed, slower than `command_timeout_ms`) switches to degraded
/// mode, where they serve from local state at once without trying Redis; a probe (PING with
/// backoff from 100 ms to 5 s) switches back when Redis answers again. Each switch is logged
/// once; an error reply from a reachable Redis fails only its own operation.
public final class RedisCluster: Service, Sendable {
    public enum Mode: String, Sendable {
        case shared
        case degraded
    }

    /// Counters `daemon/status` shows under `cluster`.
    public struct Counters: Sendable, Equatable {
        public var sharedHits = 0
        public var sharedMisses = 0
        public var sharedWrites = 0
        public var sharedTooLarge = 0
        public var sharedRemoved = 0
        public var leasesWon = 0
        public var leaseWaits = 0
        public var leaseWaitTimeouts = 0
        public var sharedReservations = 0
        /// Operations served locally because Redis could not be used (degraded, or failed now).
        public var fallbacks = 0
        /// Error replies from a reachable Redis.
        public var errors = 0
        /// Switches from shared to degraded mode.
        public var degradations = 0
    }

    private struct State {
        var mode: Mode
        /// Counts client replacements: a failure on a client a reload has already replaced says
        /// nothing about Redis.
        var generation = 0
        var reason: String?
        var changedAt: ContinuousClock.Instant = .now
        var rttMs: Double?
        var counters = Counters()
    }

    public let keyPrefix: String
    public let maxValueBytes: Int
    private let client: Mutex<any RedisCommands & RedisPool>
    private let state: Mutex<State>
    private let logger: Logger
    private let probeInterval: Duration

    public init(
        client: any RedisCommands & RedisPool, keyPrefix: String, maxValueBytes: Int, reachable: Bool,
        unreachableReason: String? = nil, probeInterval: Duration = .seconds(1), logger: Logger
    ) {
        self.client = Mutex(client)
        self.keyPrefix = keyPrefix
        self.maxValueBytes = maxValueBytes
        self.logger = logger
        self.probeInterval = probeInterval
        state = Mutex(State(mode: reachable ? .shared : .degraded, reason: reachable ? nil : unreachableReason))
    }

    public var description: String { "RedisCluster" }

    public var mode: Mode { state.withLock { $0.mode } }

    public var counters: Counters { state.withLock { $0.counters } }

    /// Adds to a counter.
    public func count(_ counter: WritableKeyPath<Counters, Int>, by amount: Int = 1) {
        state.withLock { $0.counters[keyPath: counter] += amount }
    }

    /// Runs `body` against Redis in shared mode; nil (a fallback) in degraded mode, or when
    /// Redis fails it now. A failure to reach Redis switches to degraded mode.
    public func perform<T: Sendable>(
        _ body: (any RedisCommands) async throws(RedisError) -> T
    ) async -> T? {
        guard mode == .shared else {
            count(\.fallbacks)
            return nil
        }
        let commands = client.withLock { $0 }
        let generation = state.withLock { $0.generation }
        let started = ContinuousClock.now
        do {
            let value = try await body(commands)
            record(rtt: ContinuousClock.now - started)
            return value
        } catch {
            if error.isServerReply {
                count(\.errors)
                logger.debug("Redis error reply", metadata: ["error": "\(error)"])
            } else if state.withLock({ $0.generation }) == generation {
                degrade(error)
            }
            count(\.fallbacks)
            return nil
        }
    }

    /// A reload's new client (already checked); the old one is closed.
    public func replace(client newClient: any RedisCommands & RedisPool, reachable: Bool, reason: String?) {
        let old = client.withLock { current in
            defer { current = newClient }
            return current
        }
        state.withLock { $0.generation += 1 }
        old.shutdown()
        if reachable { recover() } else { degrade(reason: reason ?? "unreachable") }
    }

    public func run() async throws {
        var backoff = Duration.milliseconds(100)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let shared = mode == .shared
            let pause = shared ? probeInterval : backoff
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            } catch {
                break
            }
            if Task.isShuttingDownGracefully { break }
            let commands = client.withLock { $0 }
            let started = ContinuousClock.now
            do {
                if !shared { commands.resetBackoff() }
                _ = try await commands.send(RedisCommand("PING"), affinity: nil)
                record(rtt: ContinuousClock.now - started)
                if !shared { recover() }
                backoff = .milliseconds(100)
            } catch {
                if shared {
                    degrade(error)
                } else {
                    backoff = min(backoff * 2, .seconds(5))
                    state.withLock { $0.reason = error.description }
                }
            }
        }
        client.withLock { $0 }.shutdown()
    }

    /// `daemon/status`'s `cluster` object.
    public func status() -> JSONObject {
        let (open, endpoint) = client.withLock { ($0.openConnections, $0.endpointDescription) }
        let state = self.state.withLock { $0 }
        let counters = state.counters
        var status: JSONObject = [
            "state": .string(state.mode.rawValue), "redis": .string(endpoint),
            "sinceMs": .int(Int64((ContinuousClock.now - state.changedAt).milliseconds)),
            "connections": .int(Int64(open)),
            "sharedHits": .int(Int64(counters.sharedHits)), "sharedMisses": .int(Int64(counters.sharedMisses)),
            "sharedWrites": .int(Int64(counters.sharedWrites)), "sharedTooLarge": .int(Int64(counters.sharedTooLarge)),
            "leasesWon": .int(Int64(counters.leasesWon)), "leaseWaits": .int(Int64(counters.leaseWaits)),
            "leaseWaitTimeouts": .int(Int64(counters.leaseWaitTimeouts)),
            "sharedReservations": .int(Int64(counters.sharedReservations)),
            "fallbacks": .int(Int64(counters.fallbacks)), "errors": .int(Int64(counters.errors)),
            "degradations": .int(Int64(counters.degradations)),
        ]
        if let rtt = state.rttMs { status["rttMs"] = .double((rtt * 1000).rounded() / 1000) }
        if let reason = state.reason, state.mode == .degraded { status["reason"] = .string(reason) }
        return status
    }

    // MARK: - Mode

    private func record(rtt: Duration) {
        let ms = Double(rtt.components.attoseconds) / 1e15 + Double(rtt.components.seconds) * 1000
        state.withLock { state in
            state.rttMs = state.rttMs.map { $0 * 0.8 + ms * 0.2 } ?? ms
        }
    }

    private func degrade(_ error: RedisError) { degrade(reason: error.description) }

    private func degrade(reason: String) {
        let switched = state.withLock { state in
            guard state.mode == .shared else { return false }
            state.mode = .degraded
            state.reason = reason
            state.changedAt = .now
            state.counters.degradations += 1
            return true
        }
        if switched {
            logger.warning("Redis unreachable; serving from local cache and local rate limits until it answers again",
                           metadata: ["cluster.reason": "\(reason)"])
        }
    }

    private func recover() {
        let switched = state.withLock { state in
            guard state.mode == .degraded else { return false }
            state.mode = .shared
            state.reason = nil
            state.changedAt = .now
            return true
        }
        if switched { logger.notice("Redis answers again; shared cache and rate limits resumed") }
    }
}

/// What the cluster link needs of a client besides commands: to be closed, and to forget its
/// reconnect backoff when the probe has just seen Redis answer.
public protocol RedisPool: Sendable {
    func shutdown()
    func resetBackoff()
    var openConnections: Int { get }
    /// Where it connects, without a password.
    var endpointDescription: String { get }
}

extension RedisClient: RedisPool {
    public var endpointDescription: String { endpoint.description }
}
