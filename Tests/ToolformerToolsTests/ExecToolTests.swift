import Foundation
import Logging
import Synchronization
import Testing
import ToolformerCore
import ToolformerProtocol
import ToolformerTesting
import ToolformerTools

#if canImport(Glibc)
import Glibc
#endif

/// The exec tool against real processes: small /bin/sh scripts written at test time.
@Suite(.timeLimit(.minutes(1)))
struct ExecToolTests {
    // MARK: results

    @Test func jsonObjectOnStdoutBecomesStructuredContent() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let script = try dir.script("json", #"printf '  {"ok": true, "n": 3, "s": "é"}\n'"#)
        let output = try await dir.tool([script]).call([:])
        #expect(!output.isError)
        #expect(output.text == "  {\"ok\": true, \"n\": 3, \"s\": \"é\"}\n")
        #expect(output.structuredContent == ["ok": true, "n": 3, "s": "é"])
    }

    @Test func plainTextStaysText() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let text = try await dir.tool(["/bin/echo", "hello", "world"]).call([:])
        #expect(text == ToolOutput(text: "hello world\n"))

        // Valid JSON that is not an object, and broken JSON, are text too.
        let array = try await dir.tool([try dir.script("array", "echo '[1, 2]'")]).call([:])
        #expect(array == ToolOutput(text: "[1, 2]\n"))
        let broken = try await dir.tool([try dir.script("broken", #"echo '{"a": '"#)]).call([:])
        #expect(broken == ToolOutput(text: "{\"a\": \n"))

        // Invalid UTF-8 is decoded with replacement characters.
        let binary = try await dir.tool([try dir.script("binary", #"printf 'a\377b'"#)]).call([:])
        #expect(binary == ToolOutput(text: "a\u{FFFD}b"))
    }

    @Test func argvIsNeverInterpretedByAShell() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let output = try await dir.tool(["/bin/echo", "$HOME", "a;b", "*", "`id`"]).call([:])
        #expect(output.text == "$HOME a;b * `id`\n")
    }

    @Test func argumentsArriveOnStdinExactly() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let script = try dir.script("stdin", #"cat > "$(dirname "$0")/stdin.bin"; echo done"#)
        let arguments: JSONObject = [
            "city": "Zürich", "n": 42, "x": 0.1, "nested": ["list": [1, "two", nil, false]], "quote": "a\"b\\c\n",
        ]
        let output = try await dir.tool([script]).call(arguments)
        #expect(output.text == "done\n")
        let received = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.path + "/stdin.bin")))
        #expect(received == JSONWriter.bytes(.object(arguments)) + [UInt8(ascii: "\n")])
        #expect(received.filter { $0 == UInt8(ascii: "\n") }.count == 1)
    }

    @Test func environmentIsCleanAndTheToolsTableWins() async throws {
        setenv("TOOLFORMER_SECRET", "sk-should-never-leak", 1)
        setenv("TOOLFORMER_EXEC_TEST_MARKER", "leaked", 1)
        defer {
            unsetenv("TOOLFORMER_SECRET")
            unsetenv("TOOLFORMER_EXEC_TEST_MARKER")
        }
        let dir = try ExecScratch()
        defer { dir.remove() }
        // /usr/bin/env directly, not through a shell, so nothing adds PWD or SHLVL.
        let output = try await dir.tool(["/usr/bin/env"], environment: ["GREETING": "hi there", "LANG": "C"]).call([:])
        var seen: [String: String] = [:]
        for line in output.text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            seen[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        #expect(seen == [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C",
            "GREETING": "hi there",
        ])
        #expect(!output.text.contains("sk-should-never-leak"))
        for name in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "WATCHDOG_USEC", "HOME", "TOOLFORMER_SECRET"] {
            #expect(seen[name] == nil, "\(name) leaked into the child")
        }

        let defaults = try await dir.tool(["/usr/bin/env"]).call([:])
        #expect(defaults.text.split(separator: "\n").sorted() == [
            "LANG=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ])
    }

    @Test func onlyStandardDescriptorsAreInherited() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        // Open a descriptor without CLOEXEC in the test process; the child must not see it.
        let fd = open("/dev/null", O_RDONLY)
        #expect(fd > 2)
        defer { close(fd) }
        let output = try await dir.tool(["/bin/ls", "/proc/self/fd"]).call([:])
        let fds = output.text.split(separator: "\n").compactMap { Int($0) }.sorted()
        // 0-2, plus the directory `ls` itself has open while listing.
        #expect(fds.count == 4, "child fds: \(fds)")
        #expect(Array(fds.prefix(3)) == [0, 1, 2])
    }

    @Test func workingDirectoryIsHonoured() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let output = try await dir.tool(["/bin/pwd"], workingDirectory: dir.path).call([:])
        let resolved = try #require(realpath(dir.path, nil))
        defer { free(resolved) }
        #expect(output.text == String(cString: resolved) + "\n")
    }

    // MARK: failures

    @Test func nonZeroExitIsAnErrorResultWithTheStderrTail() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let script = try dir.script("fail", "echo partial; echo 'first line' >&2; echo 'disk full' >&2; exit 3")
        let output = try await dir.tool([script]).call([:])
        #expect(output == ToolOutput.failure("exit code 3: first line\ndisk full"))

        // A chatty stderr is cut to its end (about 8 KiB), where the reason is.
        let chatty = try dir.script(
            "chatty", "i=0; while [ $i -lt 3000 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done; echo 'the reason' >&2; exit 1")
        let long = try await dir.tool([chatty]).call([:])
        #expect(long.isError)
        #expect(long.text.hasPrefix("exit code 1: …"))
        #expect(long.text.hasSuffix("noise line 2999\nthe reason"))
        #expect(long.text.utf8.count <= 8 * 1024 + 32)
    }

    @Test func listedExitCodeThrowsARetryableFailure() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let script = try dir.script("busy", "echo 'try again later' >&2; exit 75")
        let tool = dir.tool([script], retryExitCodes: [75, 111])
        let failure = try await #require(throws: ToolFailure.self) { try await tool.call([:]) }
        #expect(failure.retryable)
        #expect(failure.message == "exit code 75: try again later")

        // An unlisted code stays a result.
        let other = try await dir.tool([try dir.script("other", "exit 74")], retryExitCodes: [75]).call([:])
        #expect(other == ToolOutput.failure("exit code 74"))
    }

    @Test func killedBySignalIsAnErrorResult() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let script = try dir.script("suicide", "echo 'about to go' >&2; kill -TERM $$")
        let output = try await dir.tool([script]).call([:])
        #expect(output == ToolOutput.failure("killed by signal \(SIGTERM): about to go"))
    }

    @Test func missingOrNonExecutableProgramIsAnErrorResult() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let missing = try await dir.tool([dir.path + "/nope", "x"]).call([:])
        #expect(missing == ToolOutput.failure("cannot run \(dir.path)/nope: No such file or directory"))

        let plain = dir.path + "/plain.sh"
        try TestDaemon.writeFile(plain, "#!/bin/sh\necho hi\n")
        let notExecutable = try await dir.tool([plain]).call([:])
        #expect(notExecutable == ToolOutput.failure("cannot run \(plain): it is not executable"))

        let directory = try await dir.tool([dir.path]).call([:])
        #expect(directory == ToolOutput.failure("cannot run \(dir.path): it is a directory"))

        let badDirectory = try await dir.tool(["/bin/pwd"], workingDirectory: dir.path + "/gone").call([:])
        #expect(badDirectory.isError)
        #expect(badDirectory.text.contains("/gone"), "\(badDirectory.text)")
    }

    @Test func outputOverTheLimitIsAnErrorAndStopsTheProgram() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        // `yes` writes forever: the call ends only because the limit stops it.
        let started = ContinuousClock.now
        let endless = try await dir.tool(["/usr/bin/yes", "0123456789abcdef"], maxOutputBytes: 64 << 10).call([:])
        #expect(endless.isError)
        #expect(endless.text.hasPrefix("output passed 65536 bytes"), "\(endless.text)")
        #expect(ContinuousClock.now - started < .seconds(30))

        // The limit itself is allowed; one byte more is not.
        let exact = try dir.script("exact", "head -c 1000 /dev/zero | tr '\\0' x")
        let atLimit = try await dir.tool([exact], maxOutputBytes: 1000).call([:])
        #expect(atLimit == ToolOutput(text: String(repeating: "x", count: 1000)))
        let overLimit = try await dir.tool([exact], maxOutputBytes: 999).call([:])
        #expect(overLimit.isError)
        #expect(overLimit.text.hasPrefix("output passed 999 bytes"))
    }

    // MARK: stdin

    @Test func childThatNeverReadsStdinDoesNotBlockALargeCall() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let arguments: JSONObject = ["blob": .string(String(repeating: "a", count: 1 << 20))]

        let quick = try await dir.tool([try dir.script("quick", "echo ok")]).call(arguments)
        #expect(quick == ToolOutput(text: "ok\n"))

        // Still running, not reading, with the pipe full: the write waits, then gives up at exit.
        let slow = try await dir.tool([try dir.script("slow", "sleep 0.3; echo ok")]).call(arguments)
        #expect(slow == ToolOutput(text: "ok\n"))

        let stdinClosed = try await dir.tool([try dir.script("closed", "exec 0<&-; sleep 0.1; echo ok")]).call(arguments)
        #expect(stdinClosed == ToolOutput(text: "ok\n"))
    }

    @Test func largeArgumentsEchoedBackDoNotDeadlock() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        // `cat` writes while we still write: stdin and stdout must flow at the same time.
        let arguments: JSONObject = ["blob": .string(String(repeating: "b", count: 1 << 20)), "n": 1]
        let output = try await dir.tool(["/bin/cat"]).call(arguments)
        #expect(!output.isError)
        #expect(output.structuredContent == .object(arguments))
    }

    // MARK: process lifetime

    @Test func cancellationKillsTheWholeGroupAtOnce() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let script = try dir.script(
            "tree",
            """
            here=$(dirname "$0")
            sleep 300 &
            echo $! > "$here/grandchild.pid"
            echo $$ > "$here/child.pid"
            sleep 300
            echo never
            """)
        let tool = dir.tool([script])
        let started = ContinuousClock.now
        let call = Task { try await tool.call(["a": 1]) }

        let child = try await dir.waitForPID("child.pid")
        let grandchild = try await dir.waitForPID("grandchild.pid")
        #expect(ExecProcessState.of(child) == .running)
        #expect(ExecProcessState.of(grandchild) == .running)
        let elapsed = ContinuousClock.now - started
        if elapsed < .milliseconds(200) { try await Task.sleep(for: .milliseconds(200) - elapsed) }

        let cancelledAt = ContinuousClock.now
        call.cancel()
        let result = await call.result
        let returnedAfter = ContinuousClock.now - cancelledAt
        #expect(throws: CancellationError.self) { try result.get() }

        // The leader is reaped by the tool; the grandchild, reparented, may stay a zombie until
        // init collects it, but it must be dead.
        let deadAfter = try await ExecProcessState.waitUntilDead([child, grandchild], since: cancelledAt)
        #expect(ExecProcessState.of(child) == .gone)
        print("exec cancellation: call threw \(returnedAfter) after cancel; child and grandchild dead \(deadAfter) after cancel")
        // Measured at about 1-4 ms; the bound only tells a kill from a wait for the timeout, with
        // room for a loaded two-core machine running the whole suite at once.
        #expect(returnedAfter < .seconds(30))
        #expect(deadAfter < .seconds(30))
    }

    @Test func grandchildLeftBehindIsKilledWhenTheCallReturns() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        // The grandchild keeps the stdout pipe open: the call must not wait for it either.
        let script = try dir.script(
            "leaver",
            """
            sleep 300 &
            echo $! > "$(dirname "$0")/grandchild.pid"
            echo $$ > "$(dirname "$0")/child.pid"
            echo done
            """)
        let started = ContinuousClock.now
        let output = try await dir.tool([script]).call([:])
        #expect(output == ToolOutput(text: "done\n"))
        #expect(ContinuousClock.now - started < .seconds(30))
        let child = try await dir.waitForPID("child.pid")
        let grandchild = try await dir.waitForPID("grandchild.pid")
        _ = try await ExecProcessState.waitUntilDead([child, grandchild], since: started)
        #expect(ExecProcessState.of(child) == .gone)

        // Same with the pipes redirected away, so nothing but the group kill can reach it.
        let quiet = try dir.script(
            "quiet",
            """
            sleep 300 </dev/null >/dev/null 2>&1 &
            echo $! > "$(dirname "$0")/quiet.pid"
            echo done
            """)
        let second = try await dir.tool([quiet]).call([:])
        #expect(second == ToolOutput(text: "done\n"))
        _ = try await ExecProcessState.waitUntilDead([try await dir.waitForPID("quiet.pid")], since: .now)
    }

    @Test func failedCallLeavesNothingRunning() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        let script = try dir.script(
            "failer",
            """
            sleep 300 >/dev/null 2>&1 &
            echo $! > "$(dirname "$0")/grandchild.pid"
            echo boom >&2
            exit 75
            """)
        await #expect(throws: ToolFailure.self) { try await dir.tool([script], retryExitCodes: [75]).call([:]) }
        _ = try await ExecProcessState.waitUntilDead([try await dir.waitForPID("grandchild.pid")], since: .now)
    }

    // MARK: definition and logs

    @Test func definitionAndLogs() async throws {
        let dir = try ExecScratch()
        defer { dir.remove() }
        var config = ToolConfig(name: "lister", kind: .exec(ToolConfig.Exec(argv: ["/bin/echo", "hi"])))
        let described = ExecTool(config: config, exec: ToolConfig.Exec(argv: ["/bin/echo", "hi"]), logger: dir.logger)
        #expect(described.definition == ToolDefinition(name: "lister", description: "Runs /bin/echo.", inputSchema: ["type": "object"]))
        config.description = "Says hi."
        config.inputSchema = #"{"type":"object","properties":{"secret":{"type":"string"}}}"#
        let tool = ExecTool(config: config, exec: ToolConfig.Exec(argv: ["/bin/sh", "-c", "cat >/dev/null; exit 4"]), logger: dir.logger)
        #expect(tool.definition.description == "Says hi.")
        #expect(tool.definition.inputSchema["properties"]?["secret"] == ["type": "string"])

        _ = try await tool.call(["secret": "hunter2-value"])
        let events = dir.logs.events
        let finished = try #require(events.first { $0.message == "exec finished" })
        #expect(finished.level == .debug)
        #expect(finished.metadata["tool.name"] == "lister")
        #expect(finished.metadata["process.exit_code"] == "4")
        #expect(Int(finished.metadata["process.pid"]?.description ?? "") ?? 0 > 0)
        for event in events {
            #expect(!"\(event.message) \(event.metadata)".contains("hunter2"), "a log line holds an argument value")
        }
    }
}

// MARK: - Support

/// A temporary folder for scripts and pid files, and the log records of the tools built from it.
private struct ExecScratch {
    let path: String
    let logs = ExecLogRecorder()

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/toolformer-exec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    var logger: Logger { logs.logger() }

    /// Writes an executable /bin/sh script and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let file = path + "/" + name
        try TestDaemon.writeExecutable(file, "#!/bin/sh\n" + body + "\n")
        return file
    }

    func tool(
        _ argv: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
        retryExitCodes: [Int] = [], maxOutputBytes: Int = 4 << 20
    ) -> ExecTool {
        var exec = ToolConfig.Exec(argv: argv)
        exec.environment = environment
        exec.workingDirectory = workingDirectory
        exec.retryExitCodes = retryExitCodes
        let config = ToolConfig(name: "test_exec", kind: .exec(exec))
        return ExecTool(config: config, exec: exec, maxOutputBytes: maxOutputBytes, logger: logger)
    }

    /// The pid a script wrote to `name`, once it is there.
    func waitForPID(_ name: String) async throws -> pid_t {
        // Generous: the bound is only how long a loaded machine may take to start a shell; what
        // the tests measure starts after this.
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let text = try? String(contentsOfFile: path + "/" + name, encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return pid
            }
            guard ContinuousClock.now < deadline else { throw ExecScratchError("no \(name) after 30 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

private struct ExecScratchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private enum ExecProcessState: Equatable {
    /// No such process: reaped.
    case gone
    /// Dead, waiting for its parent (init, for an orphan) to reap it.
    case zombie
    case running

    static func of(_ pid: pid_t) -> ExecProcessState {
        if kill(pid, 0) != 0 && errno == ESRCH { return .gone }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let paren = stat.lastIndex(of: ")")
        else { return .gone }
        let state = stat[stat.index(after: paren)...].drop { $0 == " " }.first
        return state == "Z" || state == "X" ? .zombie : .running
    }

    /// Polls until none of `pids` runs; returns how long after `since` that was.
    static func waitUntilDead(_ pids: [pid_t], since: ContinuousClock.Instant) async throws -> Duration {
        let deadline = ContinuousClock.now + .seconds(2)
        while pids.contains(where: { of($0) == .running }) {
            guard ContinuousClock.now < deadline else {
                Issue.record("still running: \(pids.filter { of($0) == .running })")
                break
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        return ContinuousClock.now - since
    }
}

/// Log records in memory; tests never bootstrap the logging system.
private final class ExecLogRecorder: Sendable {
    struct Event: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let storage = Mutex<[Event]>([])

    var events: [Event] { storage.withLock { $0 } }

    func logger() -> Logger {
        Logger(label: "exec-test") { _ in ExecRecordingHandler(recorder: self) }
    }

    fileprivate func append(_ event: Event) { storage.withLock { $0.append(event) } }
}

private struct ExecRecordingHandler: LogHandler {
    let recorder: ExecLogRecorder
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        recorder.append(.init(level: event.level, message: "\(event.message)", metadata: merged))
    }
}
