/// The pieces of the Prometheus text format (version 0.0.4) the exporter writes itself.
enum ExpositionText {
    /// `name{a="x",b="y"} value`, label values escaped.
    static func sample(_ name: String, _ labels: [(String, String)] = [], _ value: String) -> String {
        var line = name
        if !labels.isEmpty {
            line += "{"
            for (index, (label, labelValue)) in labels.enumerated() {
                if index > 0 { line += "," }
                line += label + "=\"" + escapeLabelValue(labelValue) + "\""
            }
            line += "}"
        }
        return line + " " + value
    }

    static func help(_ family: MetricCatalogue.Family) -> String {
        var escaped = ""
        for character in family.help {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return "# HELP \(family.name) \(escaped)"
    }

    static func type(_ family: MetricCatalogue.Family) -> String { "# TYPE \(family.name) \(family.kind.rawValue)" }

    /// Label values come from configured names, already `[a-zA-Z0-9_-]`; escaping anyway means a
    /// name that slips through can never break the format.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Go's `ParseFloat` spelling, which Prometheus reads: `+Inf`, `-Inf`, `NaN`, else Swift's
    /// shortest round-tripping form (`4.5`, `1e-05`).
    static func value(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number > 0 ? "+Inf" : "-Inf" }
        return number.description
    }
}
