internal import CSystemd
internal import Glibc
public import Logging

/// Sends each event to journald as structured fields (`sd_journal_sendv`).
///
/// Besides `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER=toolformerd` and `CODE_FILE`/`CODE_LINE`/
/// `CODE_FUNC`, every metadata key becomes a field of its own, uppercased with other characters
/// turned into `_` (`request.id` → `REQUEST_ID`), so `journalctl REQUEST_ID=42` finds a request.
/// When `sd_journal_sendv` reports an error the line goes to stderr instead of being lost
/// (libsystemd itself drops messages silently when no journald runs at all).
public struct JournaldLogHandler: LogHandler {
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
        let merged = event.effectiveMetadata(base: metadata, provider: metadataProvider)
        let fields = Self.fields(
            level: event.level,
            label: label,
            message: event.message.description,
            metadata: merged,
            file: event.file,
            line: event.line,
            function: event.function
        )
        if Self.send(fields) < 0 {
            writeToStandardError(
                StderrLogHandler.formatLine(
                    time: .now(),
                    level: event.level,
                    label: label,
                    message: event.message.description,
                    metadata: merged
                )
            )
        }
    }

    /// The event as `NAME=value` fields, in the order they are sent.
    static func fields(
        level: Logger.Level,
        label: String,
        message: String,
        metadata: Logger.Metadata,
        file: String,
        line: UInt,
        function: String
    ) -> [String] {
        var fields = [
            "MESSAGE=\(message)",
            "PRIORITY=\(syslogPriority(level))",
            "SYSLOG_IDENTIFIER=toolformerd",
            "LOGGER=\(label)",
            "CODE_FILE=\(file)",
            "CODE_LINE=\(line)",
            "CODE_FUNC=\(function)",
        ]
        for key in metadata.keys.sorted() {
            fields.append("\(fieldName(forMetadataKey: key))=\(metadata[key]!)")
        }
        return fields
    }

    /// syslog(3) levels, which is what `PRIORITY=` and `journalctl -p` use.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The fields this handler writes itself; a metadata key that maps onto one gets `META_` in
    /// front, so it cannot replace the message or the priority.
    private static let ownFields: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    /// journald accepts only `[A-Z0-9_]`, at most 64 characters, not starting with a digit, and
    /// drops names starting with `_` (those are the fields it sets itself, like `_PID`).
    static func fieldName(forMetadataKey key: String) -> String {
        var name = String(
            String.UnicodeScalarView(
                key.unicodeScalars.map { scalar -> Unicode.Scalar in
                    switch scalar {
                    case "A"..."Z", "0"..."9", "_": scalar
                    case "a"..."z": Unicode.Scalar(scalar.value - 32)!
                    default: "_"
                    }
                }
            )
        )
        while name.hasPrefix("_") { name.removeFirst() }
        if name.isEmpty || name.first!.isNumber || ownFields.contains(name) {
            name = "META_" + name
        }
        return String(name.prefix(64))
    }

    /// One buffer holds every field, so one allocation serves the whole `iovec` array.
    private static func send(_ fields: [String]) -> Int32 {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.utf8)
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBytes { bytes in
            let vectors = ranges.map { range in
                iovec(iov_base: bytes.baseAddress! + range.lowerBound, iov_len: range.count)
            }
            return sd_journal_sendv(vectors, Int32(vectors.count))
        }
    }
}
