import ToolformerProtocol

/// How numbers read in human output.
enum Format {
    static func duration(milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        if seconds < 86400 { return "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
        return "\(seconds / 86400)d \(seconds % 86400 / 3600)h"
    }

    /// Elapsed time for progress lines: `0.8 s`, `12.4 s`, `3m 05s`.
    static func elapsed(_ duration: Duration) -> String {
        let ms = milliseconds(duration)
        if ms < 60_000 { return decimal(Double(ms) / 1000, places: 1) + " s" }
        let seconds = ms / 1000
        let rest = seconds % 60
        return "\(seconds / 60)m \(rest < 10 ? "0" : "")\(rest)s"
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : decimal(value, places: 1) + " " + units[unit]
    }

    /// `part / whole` as a percentage, or nil when `whole` is zero.
    static func percent(_ part: Int64, of whole: Int64) -> String? {
        guard whole > 0 else { return nil }
        return decimal(Double(part) * 100 / Double(whole), places: 1) + "%"
    }

    /// Fixed decimals without Foundation's formatters.
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let sign = value < 0 && scaled != 0 ? "-" : ""
        let whole = scaled / Int64(scale)
        guard places > 0 else { return sign + "\(whole)" }
        var fraction = String(scaled % Int64(scale))
        while fraction.count < places { fraction = "0" + fraction }
        return sign + "\(whole).\(fraction)"
    }

    /// A number as JSON writes it (`4.5`, `5`), for levels and rates.
    static func number(_ value: JSONValue?) -> String {
        switch value {
        case .int(let i)?: String(i)
        case .double(let d)?: d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : decimal(d, places: 2)
        default: "?"
        }
    }

    /// One line of at most `limit` characters, for tables and progress lines.
    static func oneLine(_ text: String, limit: Int) -> String {
        var flat = ""
        for character in text {
            flat.append(character.isNewline || character == "\t" ? " " : character)
        }
        while flat.last == " " { flat.removeLast() }
        guard flat.count > limit else { return flat }
        return String(flat.prefix(max(limit - 1, 0))) + "…"
    }

    /// Left-aligned columns separated by two spaces; the last column is not padded.
    static func table(_ rows: [[String]]) -> [String] {
        guard let columns = rows.map(\.count).max(), columns > 0 else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() where index < columns - 1 { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                line += cell
                if index < row.count - 1 { line += String(repeating: " ", count: widths[index] - cell.count + 2) }
            }
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    /// `1 request`, `3 requests`.
    static func count(_ n: Int64, _ noun: String, plural: String? = nil) -> String {
        "\(n) " + (n == 1 ? noun : plural ?? noun + "s")
    }

    /// Right-aligns `text` in `width` characters.
    static func right(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
