import Glibc
import Logging
import Synchronization
import Testing

/// Every test that reads or changes the process environment (NOTIFY_SOCKET, LISTEN_*,
/// JOURNAL_STREAM) lives in a suite nested here, so that none of them runs beside another.
@Suite(.serialized)
struct ProcessEnvironmentTests {}

/// Sets (or, for nil, unsets) the variables for the body's duration and restores them after.
func withEnvironment<T>(
    _ values: [String: String?],
    _ body: () async throws -> T
) async rethrows -> T {
    var saved: [String: String?] = [:]
    for (name, value) in values {
        saved[name] = getenv(name).map { String(cString: $0) }
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
    defer {
        for (name, value) in saved {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
    return try await body()
}

/// Keeps every log event in memory; tests never bootstrap the logging system.
final class RecordingLogHandlerStorage: Sendable {
    private let events = Mutex<[LogEvent]>([])

    var all: [LogEvent] { events.withLock { $0 } }

    func append(_ event: LogEvent) { events.withLock { $0.append(event) } }

    func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in RecordingLogHandler(storage: self) }
    }
}

struct RecordingLogHandler: LogHandler {
    let storage: RecordingLogHandlerStorage
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { storage.append(event) }
}
