public import ToolformerCore
public import ToolformerProtocol
import Synchronization

/// Rate limits with `shared = true` kept in Redis, one budget for every daemon of the cluster;
/// the others in this process, as on a single host.
///
/// A shared reservation is one atomic Lua call: refill from the server's `TIME` (so hosts'
/// clocks do not matter), take the tokens, return the wait. The reservation semantics are the
/// local bucket's: tokens are taken at once, the caller waits out the returned delay, and a
/// cancelled waiter refunds them. One bucket's calls all go over one connection, so they reach
/// Redis in the order this host made them, and local waiting order is kept.
///
/// When Redis is unreachable a shared bucket falls back to a local one with `local_share` of
/// its rate and burst: the hosts together stay near the budget without talking to each other.
public final class SharedRateLimitStore: RateLimitStore {
    struct Spec: Sendable, Equatable {
        var capacity: Double
        var ratePerSecond: Double
        var maxWaitMs: Int
        var localShare: Double
    }

    private let cluster: RedisCluster
    private let keys: RedisKeys
    /// Every bucket when degraded; non-shared ones always. Shared buckets are here at their local share.
    private let local: LocalRateLimitStore
    private let specs = Mutex<[String: Spec]>([:])
    private let levels = Mutex<[String: Double]>([:])

    static let script = RedisScript("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local capacity = tonumber(ARGV[1])
        local rate = tonumber(ARGV[2]) / 1000000
        local count = tonumber(ARGV[3])
        local maxwait = tonumber(ARGV[4])
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
        local tokens = tonumber(state[1])
        local ts = tonumber(state[2])
        if tokens == nil or ts == nil then
          tokens = capacity
          ts = now
        end
        if now > ts then
          tokens = math.min(capacity, tokens + (now - ts) * rate)
          ts = now
        end
        local granted = 1
        local wait = 0
        if ARGV[5] == 'refund' then
          tokens = math.min(capacity, tokens + count)
        else
          local balance = tokens - count
          if balance < 0 then wait = math.ceil(-balance / rate) end
          if maxwait >= 0 and wait > maxwait then granted = 0 else tokens = balance end
        end
        if granted == 1 then
          redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', ts))
          redis.call('PEXPIRE', KEYS[1], math.floor(math.ceil((capacity - tokens) / rate) / 1000) + 60000)
        end
        return {granted, wait, math.floor(tokens * 1000)}
        """)

    public init(cluster: RedisCluster, clock: any ToolformerClock, buckets: [String: RateLimitConfig] = [:]) {
        self.cluster = cluster
        keys = RedisKeys(prefix: cluster.keyPrefix)
        local = LocalRateLimitStore(clock: clock)
        apply(buckets)
    }

    public func reserve(bucket name: String, tokens: Double, limit: Duration) async -> TokenBucket.Reservation? {
        guard let spec = specs.withLock({ $0[name] }) else { return await local.reserve(bucket: name, tokens: tokens, limit: limit) }
        let maxWait = min(limit, .milliseconds(spec.maxWaitMs))
        let maxWaitMicros = maxWait.components.seconds * 1_000_000 + maxWait.components.attoseconds / 1_000_000_000_000
        if let reply = await take(name, spec, tokens: tokens, maxWaitMicros: maxWaitMicros, mode: "take") {
            cluster.count(\.sharedReservations)
            let wait = Duration.microseconds(reply.waitMicros)
            return reply.granted ? .granted(wait: wait) : .refused(retryAfter: wait)
        }
        return await localFallback(name, spec, tokens: tokens, limit: limit)
    }

    public func refund(bucket name: String, tokens: Double) async {
        guard let spec = specs.withLock({ $0[name] }) else { return await local.refund(bucket: name, tokens: tokens) }
        if await take(name, spec, tokens: tokens, maxWaitMicros: -1, mode: "refund") == nil {
            await local.refund(bucket: name, tokens: tokens)
        }
    }

    public func charge(bucket name: String, tokens: Double) async {
        guard let spec = specs.withLock({ $0[name] }) else { return await local.charge(bucket: name, tokens: tokens) }
        if await take(name, spec, tokens: tokens, maxWaitMicros: -1, mode: "take") == nil {
            await local.charge(bucket: name, tokens: tokens)
        }
    }

    public func configure(_ buckets: [String: RateLimitConfig]) async { apply(buckets) }

    public func status() -> JSONObject {
        var status = local.status()
        let shared = specs.withLock { $0 }
        let seen = levels.withLock { $0 }
        let degraded = cluster.mode != .shared
        for (name, spec) in shared.sorted(by: { $0.key < $1.key }) {
            var entry: JSONObject = [
                "capacity": .double(spec.capacity), "ratePerSecond": .double(spec.ratePerSecond),
                "maxWaitMs": .int(Int64(spec.maxWaitMs)), "shared": true,
                "mode": .string(degraded ? "local" : "shared"), "localShare": .double(spec.localShare),
            ]
            if degraded, let own = status[name]?.objectValue {
                entry["level"] = own["level"]
            } else {
                entry["level"] = .double(seen[name] ?? spec.capacity)
            }
            status[name] = .object(entry)
        }
        return status
    }

    // MARK: - Redis

    private struct Reply {
        var granted: Bool
        var waitMicros: Int64
    }

    private func take(_ name: String, _ spec: Spec, tokens: Double, maxWaitMicros: Int64, mode: String) async -> Reply? {
        let key = keys.bucket(name)
        let affinity = Int(truncatingIfNeeded: Fingerprint.fnv1a64(name.utf8))
        let reply = await cluster.perform { commands throws(RedisError) in
            try await commands.eval(
                Self.script, keys: [RedisArgument(key)],
                arguments: [
                    RedisArgument(spec.capacity), RedisArgument(spec.ratePerSecond), RedisArgument(tokens),
                    RedisArgument(maxWaitMicros), RedisArgument(mode),
                ],
                affinity: affinity)
        }
        guard let parts = reply?.array, parts.count == 3, let granted = parts[0].integer, let wait = parts[1].integer,
            let level = parts[2].integer
        else { return nil }
        levels.withLock { $0[name] = Double(level) / 1000 }
        return Reply(granted: granted == 1, waitMicros: wait)
    }

    /// Degraded: the local bucket at `local_share`; a share of 0 admits nothing until Redis is back.
    private func localFallback(_ name: String, _ spec: Spec, tokens: Double, limit: Duration) async -> TokenBucket.Reservation? {
        guard spec.localShare > 0 else { return .refused(retryAfter: .seconds(1)) }
        return await local.reserve(bucket: name, tokens: tokens, limit: limit)
    }

    private func apply(_ buckets: [String: RateLimitConfig]) {
        var shared: [String: Spec] = [:]
        var locals: [String: RateLimitConfig] = [:]
        for (name, config) in buckets {
            guard config.shared else {
                locals[name] = config
                continue
            }
            let share = config.localShare
            shared[name] = Spec(
                capacity: Double(max(config.burst, 1)), ratePerSecond: config.rate.requestsPerSecond,
                maxWaitMs: config.maxWaitMs, localShare: share)
            if let perMinute = config.tokensPerMinute, perMinute > 0 {
                shared[LocalRateLimitStore.tokenBucket(name)] = Spec(
                    capacity: Double(perMinute), ratePerSecond: Double(perMinute) / 60,
                    maxWaitMs: config.maxWaitMs, localShare: share)
            }
            guard share > 0 else { continue }
            var scaled = config
            scaled.rate = .perSecond(config.rate.requestsPerSecond * share)
            scaled.burst = max(1, Int((Double(config.burst) * share).rounded(.down)))
            scaled.tokensPerMinute = config.tokensPerMinute.map { max(1, Int((Double($0) * share).rounded(.down))) }
            locals[name] = scaled
        }
        specs.withLock { $0 = shared }
        local.apply(locals)
    }
}
