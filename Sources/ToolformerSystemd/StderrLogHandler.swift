internal import Glibc
public import Logging
internal import Synchronization

/// One readable line per event on file descriptor 2:
/// `2026-11-25T22:43:43.123Z info toolformerd: message key=value key=value`.
///
/// Keys are sorted so lines diff and grep well; values with spaces, quotes or `=` are quoted, and
/// control characters are escaped so that an event is always exactly one line.
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = LoggingSystem.metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = Self.formatLine(
            time: RealtimeInstant.now(),
            level: event.level,
            label: label,
            message: event.message.description,
            metadata: event.effectiveMetadata(base: metadata, provider: metadataProvider)
        )
        writeToStandardError(line)
    }

    /// The whole line, newline included.
    static func formatLine(
        time: RealtimeInstant,
        level: Logger.Level,
        label: String,
        message: String,
        metadata: Logger.Metadata
    ) -> String {
        var line = time.iso8601
        line += " "
        line += level.rawValue
        line += " "
        line += label
        line += ": "
        escapeControlCharacters(message, into: &line)
        for key in metadata.keys.sorted() {
            line += " "
            escapeControlCharacters(key, into: &line)
            line += "="
            appendValue("\(metadata[key]!)", to: &line)
        }
        line += "\n"
        return line
    }

    private static func appendValue(_ value: String, to line: inout String) {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains {
            $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 0x20 || $0.value == 0x7F
        }
        guard needsQuotes else {
            line += value
            return
        }
        line += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            default: escapeControlCharacter(scalar, into: &line)
            }
        }
        line += "\""
    }

    private static func escapeControlCharacters(_ text: String, into line: inout String) {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            line += text
            return
        }
        for scalar in text.unicodeScalars { escapeControlCharacter(scalar, into: &line) }
    }

    private static func escapeControlCharacter(_ scalar: Unicode.Scalar, into line: inout String) {
        switch scalar {
        case "\n": line += "\\n"
        case "\r": line += "\\r"
        case "\t": line += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            let hex = String(scalar.value, radix: 16)
            line += "\\u{" + hex + "}"
        default: line.unicodeScalars.append(scalar)
        }
    }
}

/// Serialises writers within the process: a pipe keeps only writes up to PIPE_BUF whole, and a
/// long line that needs several `write` calls must not have another line spliced into it.
private let standardErrorLock = Mutex(())

/// Writes `line` to fd 2 (Swift 6 refuses C's `stderr`), in one `write` unless the kernel takes
/// less, never dropping the tail; gives up silently if fd 2 is gone, as logging must not fail.
func writeToStandardError(_ line: String) {
    var line = line
    line.withUTF8 { bytes in
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        standardErrorLock.withLock { _ in
            while remaining > 0 {
                let written = write(2, base, remaining)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                remaining -= written
                base += written
            }
        }
    }
}

/// Wall-clock time, split the way `clock_gettime(CLOCK_REALTIME)` gives it.
struct RealtimeInstant: Sendable, Equatable {
    var seconds: Int
    var nanoseconds: Int

    static func now() -> RealtimeInstant {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return RealtimeInstant(seconds: now.tv_sec, nanoseconds: now.tv_nsec)
    }

    /// `2026-11-25T22:43:43.123Z`: UTC, so that lines from hosts in different zones sort together.
    var iso8601: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
            + "." + pad(Int32(nanoseconds / 1_000_000), 3) + "Z"
    }
}
