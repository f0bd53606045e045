public import Logging
public import ToolformerProtocol
import Synchronization

/// Sends model requests to a provider, then its fallbacks, under each provider's retries, rate
/// limits and token budget, through the opt-in LLM response cache; counts what each one did.
public final class ProviderRouter: Sendable {
    /// A provider with what the router needs to know about it.
    public struct Registered: Sendable {
        public var provider: any LLMProvider
        public var config: ProviderConfig

        public init(provider: any LLMProvider, config: ProviderConfig) {
            self.provider = provider
            self.config = config
        }
    }

    public struct Settings: Sendable {
        public var providers: [String: Registered]
        public var defaultProvider: String
        public var fallbacks: [String]

        public init(providers: [String: Registered], defaultProvider: String, fallbacks: [String]) {
            self.providers = providers
            self.defaultProvider = defaultProvider
            self.fallbacks = fallbacks
        }
    }

    private struct Counters {
        var requests = 0
        var failures = 0
        var inputTokens = 0
        var outputTokens = 0
        var cacheHits = 0
        var lastError: JSONValue = .null
    }

    private let settings: Mutex<Settings>
    private let counters = Mutex<[String: Counters]>([:])
    private let rateLimits: any RateLimitStore
    private let cache: ResultCache
    private let clock: any ToolformerClock
    private let random: @Sendable () -> Double
    private let logger: Logger

    public init(
        settings: Settings, rateLimits: any RateLimitStore, cache: ResultCache, clock: any ToolformerClock,
        logger: Logger, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.settings = Mutex(settings)
        self.rateLimits = rateLimits
        self.cache = cache
        self.clock = clock
        self.logger = logger
        self.random = random
    }

    public func reconfigure(_ newSettings: Settings) { settings.withLock { $0 = newSettings } }

    public func hasProvider(_ name: String) -> Bool { settings.withLock { $0.providers[name] != nil } }

    /// The provider a request names, or the default; then the fallbacks, each once.
    func chain(startingWith requested: String?) -> [Registered] {
        settings.withLock { settings in
            var names = [requested ?? settings.defaultProvider]
            for fallback in settings.fallbacks where !names.contains(fallback) { names.append(fallback) }
            return names.compactMap { settings.providers[$0] }
        }
    }

    /// One model turn: tries each provider of the chain until one answers.
    ///
    /// `model` applies to the first provider only (a fallback uses its own). `onProvider` is told
    /// which provider and model each attempt goes to (for `llm.started`).
    public func complete(
        _ request: LLMRequest, provider requested: String?, model: String?, deadline: Duration,
        onProvider: @Sendable (String, String) -> Void = { _, _ in }
    ) async throws(ToolformerError) -> (response: LLMResponse, provider: String) {
        let chain = chain(startingWith: requested)
        guard !chain.isEmpty else { throw .invalidParams("no such provider: \(requested ?? "default")", field: "provider") }
        var lastFailure: (provider: String, failure: ProviderFailure)?
        var allRateLimited = true
        var retryAfter: Duration?
        for (index, registered) in chain.enumerated() {
            var attempt = request
            attempt.model = (index == 0 ? model : nil) ?? registered.config.model
            onProvider(registered.config.name, attempt.model)
            switch await completeWithRetries(attempt, registered, deadline: deadline) {
            case .success(let response):
                return (response, registered.config.name)
            case .failure(let failure):
                if Task.isCancelled { throw .cancelled() }
                lastFailure = (registered.config.name, failure.failure)
                if failure.rateLimited { retryAfter = failure.failure.retryAfter } else { allRateLimited = false }
                logger.warning("provider failed", metadata: [
                    "provider.name": "\(registered.config.name)", "provider.status": "\(failure.failure.status.map(String.init) ?? "none")",
                    "error": "\(failure.failure.message)",
                ])
            }
        }
        guard let (provider, failure) = lastFailure else { throw .internalError("no provider ran") }
        if allRateLimited, let bucket = chain.first?.config.rateLimit {
            throw .rateLimited(bucket: bucket, retryAfterMs: retryAfter?.millisecondsRoundedUp ?? 0)
        }
        throw .providerError(
            "every provider failed; the last, \(provider): \(failure.description)", provider: provider, status: failure.status)
    }

    private struct Failed: Error {
        var failure: ProviderFailure
        var rateLimited = false
    }

    private func completeWithRetries(
        _ request: LLMRequest, _ registered: Registered, deadline: Duration
    ) async -> Result<LLMResponse, Failed> {
        let config = registered.config
        let policy = RetryPolicy(config.retry)
        let key = config.cacheTTLSeconds > 0
            ? CacheKey(namespace: "llm:" + config.name, fingerprint: Fingerprint.hex("\(config.kind)\u{1F}\(config.baseURL)"), request: request.json)
            : nil
        if let key, let cached = await cache.lookup(key), let response = LLMResponse(json: cached) {
            count(config.name) { $0.cacheHits += 1 }
            return .success(response)
        }

        var attempt = 0
        while true {
            attempt += 1
            if Task.isCancelled { return .failure(Failed(failure: ProviderFailure(status: nil, message: "cancelled", retryable: false))) }
            if let bucket = config.rateLimit, let refused = await waitForBudget(bucket, deadline: deadline) {
                return .failure(refused)
            }
            count(config.name) { $0.requests += 1 }
            let outcome = await Self.race(deadline: deadline, clock: clock) { try await registered.provider.complete(request) }
            switch outcome {
            case .success(let response):
                count(config.name) {
                    $0.inputTokens += response.usage.inputTokens
                    $0.outputTokens += response.usage.outputTokens
                }
                if let bucket = config.rateLimit {
                    await rateLimits.charge(bucket: LocalRateLimitStore.tokenBucket(bucket), tokens: Double(response.usage.total))
                }
                if let key { await cache.store(key, response.json, ttl: .seconds(config.cacheTTLSeconds)) }
                return .success(response)
            case .failure(let failure):
                count(config.name) {
                    $0.failures += 1
                    $0.lastError = [
                        "message": .string(failure.message), "status": failure.status.map { .int(Int64($0)) } ?? .null,
                        "atUnixMs": .int(WallClock.unixMilliseconds()),
                    ]
                }
                guard failure.retryable, attempt < policy.maxAttempts else { return .failure(Failed(failure: failure)) }
                let delay = policy.delay(afterAttempt: attempt, retryAfter: failure.retryAfter, unit: random)
                guard clock.now + delay < deadline else { return .failure(Failed(failure: failure)) }
                do { try await clock.sleep(for: delay) } catch {
                    return .failure(Failed(failure: ProviderFailure(status: nil, message: "cancelled", retryable: false)))
                }
            }
        }
    }

    /// Waits for a request token and for the token budget's debt to be paid; a wait past the
    /// bucket's `max_wait_ms` or the deadline is a failure (the next provider may have budget).
    private func waitForBudget(_ bucket: String, deadline: Duration) async -> Failed? {
        for (name, count) in [(bucket, 1.0), (LocalRateLimitStore.tokenBucket(bucket), 0.0)] {
            let remaining = max(deadline - clock.now, .zero)
            switch await rateLimits.reserve(bucket: name, tokens: count, limit: remaining) {
            case .refused(let wait)?:
                return Failed(
                    failure: ProviderFailure(status: nil, message: "rate limit \(bucket) would wait \(wait.milliseconds) ms", retryable: false, retryAfter: wait),
                    rateLimited: true)
            case .granted(let wait)? where wait > .zero:
                do { try await clock.sleep(for: wait) } catch {
                    await rateLimits.refund(bucket: name, tokens: count)
                    return Failed(failure: ProviderFailure(status: nil, message: "cancelled", retryable: false))
                }
            default:
                break
            }
        }
        return nil
    }

    /// Runs `work` against `deadline`; a provider that outlives it is cancelled (its request aborted).
    static func race(
        deadline: Duration, clock: any ToolformerClock, _ work: @escaping @Sendable () async throws -> LLMResponse
    ) async -> Result<LLMResponse, ProviderFailure> {
        await withTaskGroup(of: Result<LLMResponse, ProviderFailure>?.self) { group in
            group.addTask {
                do {
                    return .success(try await work())
                } catch let failure as ProviderFailure {
                    return .failure(failure)
                } catch is CancellationError {
                    return nil
                } catch {
                    return .failure(ProviderFailure(status: nil, message: "\(error)", retryable: true))
                }
            }
            group.addTask {
                do { try await clock.sleep(until: deadline) } catch { return nil }
                return .failure(ProviderFailure(status: nil, message: "the request's deadline passed", retryable: false))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(ProviderFailure(status: nil, message: "cancelled", retryable: false))
        }
    }

    private func count(_ provider: String, _ update: (inout Counters) -> Void) {
        counters.withLock { update(&$0[provider, default: Counters()]) }
    }

    /// `daemon/status`'s view: per provider, its kind, model, requests, failures, tokens and last
    /// error. Never a key: only where it comes from.
    public func status() -> JSONObject {
        let (providers, counts) = (settings.withLock { $0.providers }, counters.withLock { $0 })
        var result = JSONObject()
        for name in providers.keys.sorted() {
            let config = providers[name]!.config
            let counter = counts[name] ?? Counters()
            result[name] = [
                "kind": .string(config.kind.rawValue), "model": .string(config.model),
                "requests": .int(Int64(counter.requests)), "failures": .int(Int64(counter.failures)),
                "inputTokens": .int(Int64(counter.inputTokens)), "outputTokens": .int(Int64(counter.outputTokens)),
                "cacheHits": .int(Int64(counter.cacheHits)), "lastError": counter.lastError,
            ]
        }
        return result
    }
}
