public import ToolformerCore

/// Single-flight across daemons: `SET lease token NX PX` makes one host the runner of a call;
/// the others poll until the lease goes and read the result from the shared cache tier.
///
/// The lease is short (`leaseMs`) and renewed while the run lasts, so a host that dies holds its
/// calls up only that long. Release and renewal check the token, so an expired lease taken over
/// by another host is never removed by the first.
public struct RedisFlightLeases: FlightLeases {
    public let cluster: RedisCluster
    let keys: RedisKeys
    let leaseMs: Int
    let pollMs: (first: Int, max: Int)

    /// One round trip: 0 when another host holds the lease, 2 when the result has already landed
    /// (between this host's cache miss and now), 1 when the lease is this host's.
    static let acquire = RedisScript("""
        if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
        return 0
        """)
    static let release = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)
    static let renew = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """)

    public init(cluster: RedisCluster, leaseMs: Int = 3000, pollMs: (first: Int, max: Int) = (5, 50)) {
        self.cluster = cluster
        keys = RedisKeys(prefix: cluster.keyPrefix)
        self.leaseMs = leaseMs
        self.pollMs = pollMs
    }

    public func acquire(_ key: CacheKey) async -> FlightLeaseOutcome {
        let token = Self.token()
        let lease = keys.lease(key)
        let cached = keys.cache(key)
        let leaseMs = leaseMs
        let outcome: FlightLeaseOutcome? = await cluster.perform { commands throws(RedisError) in
            let reply = try await commands.eval(
                Self.acquire, keys: [RedisArgument(lease), RedisArgument(cached)],
                arguments: [RedisArgument(token), RedisArgument(leaseMs)])
            switch reply.integer {
            case 1: return .acquired(FlightLease(key: key, token: token))
            case 2: return .produced
            default: return .heldElsewhere
            }
        }
        switch outcome {
        case .acquired?: cluster.count(\.leasesWon)
        case .heldElsewhere?: cluster.count(\.leaseWaits)
        default: break
        }
        return outcome ?? .unavailable
    }

    public func hold(_ lease: FlightLease, _ body: @escaping @Sendable () async -> CallOutcome) async -> CallOutcome {
        let name = keys.lease(lease.key)
        let cluster = cluster
        let leaseMs = leaseMs
        let outcome = await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask { await body() }
            group.addTask {
                // Renew at a third of the lease's life, so two missed renewals still keep it.
                while (try? await Task.sleep(for: .milliseconds(leaseMs / 3))) != nil {
                    _ = await cluster.perform { commands throws(RedisError) in
                        try await commands.eval(Self.renew, keys: [RedisArgument(name)], arguments: [RedisArgument(lease.token), RedisArgument(leaseMs)])
                    }
                }
                return nil
            }
            var result: CallOutcome = .failure(.cancelled())
            while let next = await group.next() {
                if let next {
                    result = next
                    group.cancelAll()
                }
            }
            return result
        }
        _ = await cluster.perform { commands throws(RedisError) in
            try await commands.eval(Self.release, keys: [RedisArgument(name)], arguments: [RedisArgument(lease.token)])
        }
        return outcome
    }

    public func waitForRelease(_ key: CacheKey, until deadline: Duration, clock: any ToolformerClock) async -> Bool {
        let name = keys.lease(key)
        var poll = pollMs.first
        while clock.now < deadline {
            let wait = min(Duration.milliseconds(poll), deadline - clock.now)
            do { try await clock.sleep(for: wait) } catch { return false }
            let exists = await cluster.perform { commands throws(RedisError) in
                try await commands.send(RedisCommand("EXISTS", [RedisArgument(name)])).integer ?? 0
            }
            // Redis gone: nobody coordinates any more; the caller runs the call itself.
            guard let exists else { return true }
            if exists == 0 { return true }
            poll = min(poll * 2, pollMs.max)
        }
        cluster.count(\.leaseWaitTimeouts)
        return false
    }

    static func token() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 16) + String(generator.next() as UInt64, radix: 16)
    }
}
