#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
public enum HTTPRetryAfter {
    /// The wait the header asks for; a date counts from `now` (seconds since 1970; the system
    /// clock when `nil`), and one in the past is a wait of zero. `nil` when the value is neither form.
    public static func parse(_ value: String, now: Int64? = nil) -> Duration? {
        let text = value.trimmingASCIIWhitespace()
        guard !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // Absurd values are clamped rather than rejected; the caller's deadline caps them anyway.
            guard text.utf8.count <= 12, let seconds = Int64(text) else { return .seconds(Int64(Int32.max)) }
            return .seconds(seconds)
        }
        guard let date = parseHTTPDate(text) else { return nil }
        return .seconds(max(0, date - (now ?? Int64(time(nil)))))
    }

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms, as
    /// seconds since 1970.
    static func parseHTTPDate(_ text: String) -> Int64? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        let day: String, month: String, year: String, clock: String
        switch tokens.count {
        case 6 where tokens[5] == "GMT":
            (day, month, year, clock) = (tokens[1], tokens[2], tokens[3], tokens[4])
        case 5:
            (month, day, clock, year) = (tokens[1], tokens[2], tokens[3], tokens[4])
        default:
            return nil
        }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        guard let monthIndex = months.firstIndex(of: month.lowercased()), let d = Int64(day), (1...31).contains(d),
            var y = Int64(year)
        else { return nil }
        if year.count == 2 { y += y < 70 ? 2000 : 1900 }
        let parts = clock.split(separator: ":")
        guard parts.count == 3, let h = Int64(parts[0]), let m = Int64(parts[1]), let s = Int64(parts[2]),
            (0...23).contains(h), (0...59).contains(m), (0...60).contains(s)
        else { return nil }
        return daysFromCivil(year: y, month: Int64(monthIndex + 1), day: d) * 86_400 + h * 3600 + m * 60 + s
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
