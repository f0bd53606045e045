import Glibc
import Logging
import Testing

@testable import ToolformerSystemd

extension ProcessEnvironmentTests {
    @Suite struct SystemdLoggingTests {
        @Test func stderrIsNotTheJournalWithoutJournalStream() async {
            await withEnvironment(["JOURNAL_STREAM": nil]) {
                #expect(!SystemdLogging.stderrIsJournal())
            }
        }

        @Test func stderrIsNotTheJournalWhenJournalStreamNamesAnotherFile() async {
            var status = stat()
            #expect(fstat(2, &status) == 0)
            let other = "\(status.st_dev):\(UInt64(status.st_ino) &+ 1)"
            await withEnvironment(["JOURNAL_STREAM": other]) {
                #expect(!SystemdLogging.stderrIsJournal())
            }
            await withEnvironment(["JOURNAL_STREAM": "garbage"]) {
                #expect(!SystemdLogging.stderrIsJournal())
            }
        }

        @Test func autoPicksStderrWhenNotUnderJournald() async {
            await withEnvironment(["JOURNAL_STREAM": nil]) {
                let factory = SystemdLogging.handlerFactory(destination: .auto, level: .debug)
                let handler = factory("toolformerd")
                #expect(handler is StderrLogHandler)
                #expect(handler.logLevel == .debug)
            }
        }
    }
}

@Suite struct JournalStreamMatchingTests {
    @Test func matchesTheDeviceAndInodeOfTheDescriptor() throws {
        var template = Array("/tmp/toolformer-journal-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        defer {
            close(fd)
            unlink(template)
        }
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        #expect(SystemdLogging.journalStream("\(status.st_dev):\(status.st_ino)", matchesDescriptor: fd))
        #expect(!SystemdLogging.journalStream("\(status.st_dev):\(status.st_ino + 1)", matchesDescriptor: fd))
        #expect(!SystemdLogging.journalStream("\(status.st_dev)", matchesDescriptor: fd))
        #expect(!SystemdLogging.journalStream("\(status.st_dev):\(status.st_ino):1", matchesDescriptor: fd))
        #expect(!SystemdLogging.journalStream("\(status.st_dev):\(status.st_ino)", matchesDescriptor: -1))
    }

    @Test func explicitDestinationsPickTheirHandler() {
        #expect(SystemdLogging.handlerFactory(destination: .journald, level: .info)("x") is JournaldLogHandler)
        #expect(SystemdLogging.handlerFactory(destination: .stderr, level: .info)("x") is StderrLogHandler)
        #expect(LogDestination(rawValue: "journald") == .journald)
        #expect(LogDestination.allCases == [.auto, .journald, .stderr])
    }
}

@Suite struct StderrLogHandlerTests {
    private let time = RealtimeInstant(seconds: 1_795_646_623, nanoseconds: 123_999_999)

    @Test func timestampIsUTCWithMilliseconds() {
        #expect(time.iso8601 == "2026-11-25T22:43:43.123Z")
        #expect(RealtimeInstant(seconds: 0, nanoseconds: 5_000_000).iso8601 == "1970-01-01T00:00:00.005Z")
    }

    @Test func lineHasSortedKeysAndEndsInOneNewline() {
        let line = StderrLogHandler.formatLine(
            time: time,
            level: .info,
            label: "toolformerd",
            message: "request done",
            metadata: ["request.id": "42", "peer.uid": "1000", "tool.name": .stringConvertible(7)]
        )
        #expect(
            line == "2026-11-25T22:43:43.123Z info toolformerd: request done peer.uid=1000 request.id=42 tool.name=7\n"
        )
    }

    @Test func noMetadataNoTrailingSpace() {
        let line = StderrLogHandler.formatLine(time: time, level: .warning, label: "l", message: "m", metadata: [:])
        #expect(line == "2026-11-25T22:43:43.123Z warning l: m\n")
    }

    @Test func awkwardValuesAreQuotedAndNewlinesEscaped() {
        let line = StderrLogHandler.formatLine(
            time: time,
            level: .error,
            label: "toolformerd",
            message: "two\nlines",
            metadata: ["a": "has space", "b": "", "c": "say \"hi\"", "d": "x=y", "e": "back\\slash", "f": "tab\there"]
        )
        let expected = #"2026-11-25T22:43:43.123Z error toolformerd: two\nlines a="has space" b="" "#
            + #"c="say \"hi\"" d="x=y" e=back\slash f="tab\there""# + "\n"
        #expect(line == expected)
        #expect(line.filter { $0 == "\n" }.count == 1)
    }

    @Test func handlerMergesItsOwnMetadataAndTheError() {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        var handler = StderrLogHandler(label: "x", level: .notice)
        handler[metadataKey: "peer.uid"] = "1"
        let event = LogEvent(
            level: .error, message: "m", error: Boom(), metadata: ["peer.uid": "2", "request.id": "7"],
            source: nil, file: "f", function: "g", line: 1
        )
        let merged = event.effectiveMetadata(base: handler.metadata, provider: nil)
        #expect(merged["peer.uid"] == "2")
        #expect(merged["request.id"] == "7")
        #expect(merged["error.message"] == "boom")
        #expect(handler.logLevel == .notice)
    }
}

@Suite struct JournaldLogHandlerTests {
    @Test func metadataKeysBecomeJournalFieldNames() {
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "request.id") == "REQUEST_ID")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "peer.uid") == "PEER_UID")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "peer.pid") == "PEER_PID")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "tool-name") == "TOOL_NAME")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "_pid") == "PID")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "2fa") == "META_2FA")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "message") == "META_MESSAGE")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "priority") == "META_PRIORITY")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "") == "META_")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: "café") == "CAF_")
        #expect(JournaldLogHandler.fieldName(forMetadataKey: String(repeating: "k", count: 100)).count == 64)
    }

    @Test func fieldsCarryMessagePriorityIdentifierSourceAndMetadata() {
        let fields = JournaldLogHandler.fields(
            level: .warning,
            label: "toolformerd",
            message: "slow tool\nsecond line",
            metadata: ["request.id": "42", "peer.uid": "1000", "peer.pid": "321"],
            file: "ToolformerCore/Executor.swift",
            line: 88,
            function: "run(_:)"
        )
        #expect(
            fields == [
                "MESSAGE=slow tool\nsecond line",
                "PRIORITY=4",
                "SYSLOG_IDENTIFIER=toolformerd",
                "LOGGER=toolformerd",
                "CODE_FILE=ToolformerCore/Executor.swift",
                "CODE_LINE=88",
                "CODE_FUNC=run(_:)",
                "PEER_PID=321",
                "PEER_UID=1000",
                "REQUEST_ID=42",
            ]
        )
    }

    @Test func prioritiesAreSyslogLevels() {
        let levels: [Logger.Level: Int] = [
            .trace: 7, .debug: 7, .info: 6, .notice: 5, .warning: 4, .error: 3, .critical: 2,
        ]
        for (level, priority) in levels {
            #expect(JournaldLogHandler.syslogPriority(level) == priority)
        }
    }

    @Test func loggingWithoutJournaldDoesNotCrash() {
        // Here journald may be absent; the handler must neither crash nor throw.
        var logger = Logger(label: "toolformerd") { JournaldLogHandler(label: $0, level: .trace) }
        logger[metadataKey: "request.id"] = "1"
        logger.trace("journald handler smoke test", metadata: ["peer.uid": "0"])
    }
}
