import Metrics
import class Prometheus.PrometheusCollectorRegistry
import struct Prometheus.PrometheusMetricsFactory
import Synchronization
public import ToolformerCore
import ToolformerProtocol

/// The daemon's metrics: the hot-path events of ``ToolformerCore/ToolformerMetrics`` recorded on
/// swift-metrics instruments, backed by a Prometheus registry of its own, plus `daemon/status`
/// read when scraped (``exposition(status:)``).
///
/// Each instance makes its instruments from its own factory and registry and never touches
/// `MetricsSystem`'s global factory, so instances (and tests) are independent.
///
/// Label values are tool, bucket and method names: configuration restricts the first two to
/// `[a-zA-Z0-9_-]`, and a method the daemon does not serve counts as `other`, so a client sending
/// made-up methods cannot grow the series without bound.
public final class PrometheusMetrics: ToolformerMetrics, Sendable {
    /// The `method` label of requests for methods the daemon does not serve.
    public static let otherMethod = "other"

    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let state: Mutex<State>

    private struct SeriesKey: Hashable {
        var name: String
        var labelValues: [String]
    }

    /// A tool and an outcome: the key of the instruments every tool call records on.
    private struct ToolOutcome: Hashable {
        var tool: String
        var outcome: String
    }

    private struct State {
        var knownMethods: Set<String>
        var counters: [SeriesKey: Counter] = [:]
        var timers: [SeriesKey: Timer] = [:]
        /// `toolCallFinished`'s pair of instruments, found with one lookup (the generic path cost
        /// two label arrays, two series keys and two locks per call).
        var toolCalls: [ToolOutcome: (calls: Counter, duration: Timer)] = [:]
    }

    /// `methods` are the names the daemon serves; any other counts as `other`. More can be added
    /// with ``recognize(methods:)`` once the method table is complete.
    public init(methods: some Sequence<String> = []) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // From ping's microseconds to orchestrate's minutes (orchestrator.max_request_ms is 300 s).
        let requestBuckets: [Duration] = [
            .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
            .seconds(120), .seconds(300),
        ]
        // Waits are bounded by max_wait_ms (30 s by default).
        let waitBuckets: [Duration] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
            .seconds(10), .seconds(30), .seconds(60),
        ]
        factory.defaultDurationHistogramBuckets = requestBuckets
        factory.durationHistogramBuckets = [
            MetricCatalogue.requestDuration.name: requestBuckets,
            MetricCatalogue.toolCallDuration.name: requestBuckets,
            MetricCatalogue.rateLimitWait.name: waitBuckets,
        ]
        self.registry = registry
        self.factory = factory
        state = Mutex(State(knownMethods: Set(methods)))
    }

    /// Adds method names that count under their own `method` label.
    public func recognize(methods: some Sequence<String>) {
        state.withLock { $0.knownMethods.formUnion(methods) }
    }

    /// The `method` label `method` is counted under.
    public func methodLabel(_ method: String) -> String {
        state.withLock { $0.knownMethods.contains(method) } ? method : Self.otherMethod
    }

    // MARK: - ToolformerMetrics

    public func requestFinished(method: String, code: Int64, duration: Duration) {
        let method = methodLabel(method)
        counter(MetricCatalogue.requests, [("method", method), ("code", String(code))]).increment()
        timer(MetricCatalogue.requestDuration, [("method", method)]).record(duration: duration)
    }

    public func toolCallFinished(tool: String, outcome: String, duration: Duration) {
        let key = ToolOutcome(tool: tool, outcome: outcome)
        let instruments = state.withLock { $0.toolCalls[key] } ?? {
            let made = (
                calls: counter(MetricCatalogue.toolCalls, [("tool", tool), ("outcome", outcome)]),
                duration: timer(MetricCatalogue.toolCallDuration, [("tool", tool)]))
            state.withLock { $0.toolCalls[key] = made }
            return made
        }()
        instruments.calls.increment()
        instruments.duration.record(duration: duration)
    }

    public func toolRetried(tool: String) {
        counter(MetricCatalogue.toolRetries, [("tool", tool)]).increment()
    }

    public func rateLimitWaited(bucket: String, wait: Duration) {
        counter(MetricCatalogue.rateLimitWaits, [("bucket", bucket)]).increment()
        timer(MetricCatalogue.rateLimitWait, [("bucket", bucket)]).record(duration: wait)
    }

    public func rateLimitRejected(bucket: String) {
        counter(MetricCatalogue.rateLimitRejections, [("bucket", bucket)]).increment()
    }

    // MARK: - Instruments

    // Made once per series and kept: the factory would hand back the same registry entry, but
    // only after a lookup, an allocation and name checks on every event.
    private func counter(_ family: MetricCatalogue.Family, _ labels: [(String, String)]) -> Counter {
        let key = SeriesKey(name: family.name, labelValues: labels.map(\.1))
        return state.withLock { state in
            if let counter = state.counters[key] { return counter }
            let counter = Counter(label: family.name, dimensions: labels, factory: factory)
            state.counters[key] = counter
            return counter
        }
    }

    private func timer(_ family: MetricCatalogue.Family, _ labels: [(String, String)]) -> Timer {
        let key = SeriesKey(name: family.name, labelValues: labels.map(\.1))
        return state.withLock { state in
            if let timer = state.timers[key] { return timer }
            let timer = Timer(label: family.name, dimensions: labels, factory: factory)
            state.timers[key] = timer
            return timer
        }
    }
}
