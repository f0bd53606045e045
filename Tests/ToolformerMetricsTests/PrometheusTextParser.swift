/// A strict reader of the Prometheus text format 0.0.4, for checking what the exporter writes:
/// it refuses what real scrapers would refuse and also what they would let pass but is still
/// wrong (samples without a TYPE, a family split in two, duplicate series, inconsistent
/// histograms, negative counters).
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
    }

    struct Family {
        var name: String
        var type: String
        var help: String?
        var samples: [(sample: Sample, value: Double)] = []
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var reason: String
        var description: String { "line \(line): \(reason)" }
    }

    private(set) var families: [Family] = []

    /// The value of the one sample `name` with exactly `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        for family in families {
            for entry in family.samples where entry.sample.name == name && entry.sample.labels == labels {
                return entry.value
            }
        }
        return nil
    }

    func family(_ name: String) -> Family? { families.first { $0.name == name } }

    /// Every sample of `name` (a sample name, so `x_bucket` for a histogram's buckets).
    func samples(_ name: String) -> [(labels: [String: String], value: Double)] {
        families.flatMap { $0.samples }.filter { $0.sample.name == name }.map { ($0.sample.labels, $0.value) }
    }

    init(_ text: String) throws(ParseError) {
        guard text.isEmpty || text.hasSuffix("\n") else { throw ParseError(line: 0, reason: "does not end with a newline") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }

        var finished = Set<String>()
        var seenSeries = Set<String>()
        var helpBeforeType: [String: String] = [:]
        for (index, line) in lines.enumerated() {
            let number = index + 1
            func fail(_ reason: String) -> ParseError { ParseError(line: number, reason: "\(reason): \(line)") }
            if line.isEmpty { throw fail("empty line") }

            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { continue }
                let name = parts[2]
                guard Self.isMetricName(name) else { throw fail("bad metric name") }
                if parts[1] == "HELP" {
                    let help = try Self.unescapeHelp(parts.count > 3 ? parts[3] : "", fail: fail)
                    if families.last?.name == name {
                        guard families[families.count - 1].help == nil else { throw fail("second HELP") }
                        guard families[families.count - 1].samples.isEmpty else { throw fail("HELP after samples") }
                        families[families.count - 1].help = help
                    } else {
                        guard helpBeforeType[name] == nil else { throw fail("second HELP") }
                        helpBeforeType[name] = help
                    }
                } else {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw fail("bad TYPE")
                    }
                    guard !finished.contains(name), families.last?.name != name else { throw fail("second TYPE for a family") }
                    if let last = families.last { finished.insert(last.name) }
                    families.append(Family(name: name, type: parts[3], help: helpBeforeType.removeValue(forKey: name)))
                }
                continue
            }

            let (sample, value) = try Self.parseSample(line, fail: fail)
            guard var family = families.last else { throw fail("sample before any TYPE") }
            let allowed: [String] = switch family.type {
            case "histogram": [family.name + "_bucket", family.name + "_sum", family.name + "_count"]
            default: [family.name]
            }
            guard allowed.contains(sample.name) else { throw fail("sample outside its family \(family.name)") }
            let seriesKey = sample.name + "|" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            guard seenSeries.insert(seriesKey).inserted else { throw fail("duplicate series") }
            if family.type == "counter" && !(value >= 0) { throw fail("negative counter") }
            family.samples.append((sample, value))
            families[families.count - 1] = family
        }
        if let name = helpBeforeType.keys.first { throw ParseError(line: 0, reason: "HELP for \(name) with no TYPE") }
        for family in families where family.type == "histogram" { try Self.checkHistogram(family) }
    }

    // MARK: - Pieces

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    /// Go's float spelling: decimal with an optional exponent, `NaN`, `+Inf`, `-Inf`.
    static func parseValue(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default: break
        }
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "+" || scalars.first == "-" { scalars = scalars.dropFirst() }
        let mantissaEnd = scalars.firstIndex { $0 == "e" || $0 == "E" } ?? scalars.endIndex
        let mantissa = scalars[..<mantissaEnd]
        let digits = mantissa.filter { $0 != "." }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), mantissa.filter({ $0 == "." }).count <= 1 else { return nil }
        if mantissaEnd != scalars.endIndex {
            var exponent = scalars[scalars.index(after: mantissaEnd)...]
            if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
            guard !exponent.isEmpty, exponent.allSatisfy(\.isASCIIDigit) else { return nil }
        }
        return Double(text)
    }

    private static func unescapeHelp(_ text: String, fail: (String) -> ParseError) throws(ParseError) -> String {
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                switch character {
                case "\\": result.append("\\")
                case "n": result.append("\n")
                default: throw fail("bad escape in HELP")
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        if escaping { throw fail("HELP ends in a backslash") }
        return result
    }

    private static func parseSample(_ line: String, fail: (String) -> ParseError) throws(ParseError) -> (Sample, Double) {
        let characters = Array(line)
        var position = 0
        var name = ""
        while position < characters.count, characters[position] != "{", characters[position] != " " {
            name.append(characters[position])
            position += 1
        }
        guard isMetricName(name) else { throw fail("bad metric name") }

        var labels: [String: String] = [:]
        if position < characters.count, characters[position] == "{" {
            position += 1
            while true {
                guard position < characters.count else { throw fail("unterminated labels") }
                if characters[position] == "}" { position += 1; break }
                var label = ""
                while position < characters.count, characters[position] != "=" {
                    label.append(characters[position])
                    position += 1
                }
                guard isLabelName(label) else { throw fail("bad label name '\(label)'") }
                guard position + 1 < characters.count, characters[position + 1] == "\"" else { throw fail("label value not quoted") }
                position += 2
                var value = ""
                var closed = false
                while position < characters.count {
                    let character = characters[position]
                    position += 1
                    if character == "\\" {
                        guard position < characters.count else { throw fail("bad escape") }
                        switch characters[position] {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw fail("bad escape in a label value")
                        }
                        position += 1
                    } else if character == "\"" {
                        closed = true
                        break
                    } else if character == "\n" {
                        throw fail("raw newline in a label value")
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw fail("unterminated label value") }
                guard labels.updateValue(value, forKey: label) == nil else { throw fail("label \(label) twice") }
                guard position < characters.count else { throw fail("unterminated labels") }
                if characters[position] == "," { position += 1 } else if characters[position] != "}" {
                    throw fail("expected , or } after a label")
                }
            }
        }
        guard position < characters.count, characters[position] == " " else { throw fail("no space before the value") }
        let rest = String(characters[(position + 1)...]).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard rest.count == 1 || rest.count == 2 else { throw fail("trailing text") }
        guard let value = parseValue(rest[0]) else { throw fail("bad value '\(rest[0])'") }
        if rest.count == 2 {
            guard Int64(rest[1]) != nil else { throw fail("bad timestamp") }
        }
        return (Sample(name: name, labels: labels), value)
    }

    /// Per series (the labels without `le`): buckets ascending by `le` with counts that never go
    /// down, a `+Inf` bucket equal to `_count`, and a `_sum`.
    private static func checkHistogram(_ family: Family) throws(ParseError) {
        func fail(_ reason: String) -> ParseError { ParseError(line: 0, reason: "\(family.name): \(reason)") }
        var buckets: [[String: String]: [(Double, Double)]] = [:]
        var sums: [[String: String]: Double] = [:]
        var counts: [[String: String]: Double] = [:]
        for (sample, value) in family.samples {
            var labels = sample.labels
            if sample.name.hasSuffix("_bucket") {
                guard let le = labels.removeValue(forKey: "le"), let bound = parseValue(le) else { throw fail("bucket without le") }
                buckets[labels, default: []].append((bound, value))
            } else if sample.name.hasSuffix("_sum") {
                guard labels["le"] == nil else { throw fail("le on _sum") }
                sums[labels] = value
            } else {
                guard labels["le"] == nil else { throw fail("le on _count") }
                counts[labels] = value
            }
        }
        guard Set(buckets.keys) == Set(counts.keys), Set(counts.keys) == Set(sums.keys) else {
            throw fail("series without all of _bucket, _sum and _count")
        }
        for (labels, series) in buckets {
            for (previous, next) in zip(series, series.dropFirst()) {
                guard previous.0 < next.0 else { throw fail("le not ascending for \(labels)") }
                guard previous.1 <= next.1 else { throw fail("bucket counts go down for \(labels)") }
            }
            guard let last = series.last, last.0 == .infinity else { throw fail("no +Inf bucket for \(labels)") }
            guard last.1 == counts[labels] else { throw fail("+Inf bucket is not _count for \(labels)") }
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
