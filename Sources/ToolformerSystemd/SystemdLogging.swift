internal import Glibc
public import Logging

/// Where the daemon's logs go.
public enum LogDestination: String, Sendable, CaseIterable {
    /// journald when stderr is connected to the journal, otherwise stderr.
    case auto
    case journald
    case stderr
}

/// Choosing a log handler for the daemon.
public enum SystemdLogging {
    /// Whether fd 2 is the stream systemd connected to journald (`StandardError=journal`).
    ///
    /// `JOURNAL_STREAM` alone is not enough: a child started from a unit inherits it even after
    /// its stderr was redirected, so the variable's `device:inode` must match fd 2 itself.
    public static func stderrIsJournal() -> Bool {
        guard let value = getenv("JOURNAL_STREAM") else { return false }
        return journalStream(String(cString: value), matchesDescriptor: 2)
    }

    static func journalStream(_ value: String, matchesDescriptor fd: Int32) -> Bool {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else {
            return false
        }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// A factory for `LoggingSystem.bootstrap`; `.auto` decides once, now, not per logger.
    public static func handlerFactory(
        destination: LogDestination,
        level: Logger.Level
    ) -> @Sendable (String) -> any LogHandler {
        let useJournal: Bool
        switch destination {
        case .auto: useJournal = stderrIsJournal()
        case .journald: useJournal = true
        case .stderr: useJournal = false
        }
        if useJournal {
            return { label in JournaldLogHandler(label: label, level: level) }
        }
        return { label in StderrLogHandler(label: label, level: level) }
    }
}
