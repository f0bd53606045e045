/// How numbers are printed in the tables.
enum Format {
    /// 123456 → "123.5k".
    static func rate(_ value: Double) -> String {
        if value >= 1_000_000 { return fixed(value / 1_000_000, 2) + "M" }
        if value >= 1000 { return fixed(value / 1000, 1) + "k" }
        return fixed(value, 0)
    }

    static func fixed(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard places > 0 else { return sign + String(whole) }
        let fraction = String(scaled % Int64(scale))
        return sign + String(whole) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    static func micros(_ value: Double) -> String { value >= 100 ? fixed(value, 0) : fixed(value, 1) }

    static func ratio(_ value: Double) -> String { fixed(value, 2) + "x" }

    static func mebibytes(_ bytes: Int) -> String { fixed(Double(bytes) / 1_048_576, 1) + " MiB" }
}

extension Double {
    func roundedTo(_ places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
