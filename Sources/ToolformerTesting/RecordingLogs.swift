public import Logging
import Synchronization

/// Log lines kept in memory, so that a test can check what was (and was not) logged. Tests never
/// bootstrap the logging system: they hand this logger to what they test.
public final class RecordingLogs: Sendable {
    private let lines = Mutex<[String]>([])
    private let label: String

    public init(label: String = "test") { self.label = label }

    /// Every line so far: level, message and merged metadata.
    public var all: [String] { lines.withLock { $0 } }

    /// A logger at trace level that records into these logs.
    public var logger: Logger {
        var logger = Logger(label: label) { _ in RecordingLogHandler(logs: self) }
        logger.logLevel = .trace
        return logger
    }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// A logger that drops everything.
    public static let quiet = Logger(label: "test-quiet") { _ in SwiftLogNoOpLogHandler() }
}

private struct RecordingLogHandler: LogHandler {
    let logs: RecordingLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        logs.append("\(event.level) \(event.message) \(merged)")
    }
}
