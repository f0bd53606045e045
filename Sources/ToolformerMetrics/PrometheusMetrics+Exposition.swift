public import ToolformerProtocol

extension PrometheusMetrics {
    /// Everything in the Prometheus text format, version 0.0.4: the recorded events, and `status`
    /// (the object `daemon/status` answers) read now. Every family in the same order on every
    /// scrape, each with `# HELP` and `# TYPE` even before its first sample, series sorted.
    public func exposition(status: JSONObject) -> String {
        var samples = Self.recordedSamples(registry.emitToString())
        for (name, lines) in StatusSamples.collect(status) { samples[name, default: []] += lines }

        var text = ""
        text.reserveCapacity(8192)
        for family in MetricCatalogue.all {
            text += ExpositionText.help(family) + "\n" + ExpositionText.type(family) + "\n"
            for line in samples[family.name] ?? [] { text += line + "\n" }
        }
        return text
    }

    /// The registry's text regrouped by family name, without its `# TYPE` lines (the catalogue
    /// writes them, with help the swift-metrics API has no room for). The registry lists families
    /// and series in hash order; sorting the series makes scrapes comparable line by line. A
    /// histogram series is its `_bucket` lines through its `_count`, and stays in one piece.
    static func recordedSamples(_ text: String) -> [String: [String]] {
        var families: [String: [String]] = [:]
        var current: String?
        var lines: [Substring] = []
        func finish() {
            guard let name = current else { return }
            var series: [[Substring]] = []
            var piece: [Substring] = []
            for line in lines {
                piece.append(line)
                // Counter and gauge series are one line; a histogram's ends with `_count`.
                if !line.hasPrefix(name + "_bucket") && !line.hasPrefix(name + "_sum") {
                    series.append(piece)
                    piece = []
                }
            }
            if !piece.isEmpty { series.append(piece) }
            series.sort { $0[0] < $1[0] }
            families[name, default: []] += series.joined().map(String.init)
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") {
                finish()
                current = line.dropFirst("# TYPE ".count).split(separator: " ").first.map(String.init)
                lines = []
            } else if !line.hasPrefix("#") {
                lines.append(line)
            }
        }
        finish()
        return families
    }
}
