public import ToolformerCore
public import ToolformerProtocol

/// `daemon/metrics`: the Prometheus exposition over the socket, `{"text": "..."}`, for clients
/// that cannot or need not scrape HTTP (`toolformerctl metrics`).
public enum MetricsMethods {
    public static let method = "daemon/metrics"

    /// Registers `daemon/metrics` (immediate: it only reads counters and `status`). `status` must
    /// build the same object `daemon/status` answers.
    ///
    /// Also tells `metrics` every method `table` holds by then, `daemon/metrics` included, so
    /// calling this after every other method is registered is all the wiring the `method` label
    /// needs.
    public static func register(
        in table: inout MethodTable, metrics: PrometheusMetrics, status: @escaping @Sendable () -> JSONObject
    ) {
        table.register(method, .immediate { _, _ in
            ["text": .string(metrics.exposition(status: status()))]
        })
        metrics.recognize(methods: table.methods)
    }
}
