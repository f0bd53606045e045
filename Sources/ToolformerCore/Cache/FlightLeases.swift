/// Single-flight across hosts: before running a cacheable call, a daemon asks for a short lease
/// on its key, so that one host runs an identical call while the others wait for its result.
/// The orchestrator uses it when the daemon has a `[cluster]`; the Redis implementation keeps
/// the lease alive while the run lasts, so a host that dies frees its calls within a lease's life.
public protocol FlightLeases: Sendable {
    /// Tries to become the host that runs `key`.
    func acquire(_ key: CacheKey) async -> FlightLeaseOutcome
    /// Runs `body` while keeping `lease` alive, then releases it.
    func hold(_ lease: FlightLease, _ body: @escaping @Sendable () async -> CallOutcome) async -> CallOutcome
    /// Waits until no host holds a lease on `key`, or `deadline` on `clock` passes. True when the
    /// lease was released (or expired), false when the wait gave up.
    func waitForRelease(_ key: CacheKey, until deadline: Duration, clock: any ToolformerClock) async -> Bool
}

/// A lease this host holds.
public struct FlightLease: Sendable, Equatable {
    public let key: CacheKey
    /// Proves the lease is this host's when it is renewed or released.
    public let token: String

    public init(key: CacheKey, token: String) {
        self.key = key
        self.token = token
    }
}

public enum FlightLeaseOutcome: Sendable, Equatable {
    /// This host runs the call.
    case acquired(FlightLease)
    /// Another host runs it now: wait for its release.
    case heldElsewhere
    /// Another host has already produced the result: read it from the cache.
    case produced
    /// No coordination now (the shared store is unreachable): run the call here.
    case unavailable
}
