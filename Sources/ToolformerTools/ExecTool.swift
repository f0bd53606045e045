public import Logging
public import ToolformerCore
public import ToolformerProtocol
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `kind = "exec"`: runs the configured argv (never through a shell) with the call's arguments as
/// one line of compact JSON on stdin, and answers with what the program printed.
///
/// The child gets a clean environment (`PATH`, `LANG` and the tool's `env`), no descriptors beyond
/// 0-2, and its own process group. Whatever way the call ends (exit, failure, output over the
/// limit, cancellation) the whole group is sent SIGKILL before `call` returns, so nothing the
/// program forked outlives the call.
public struct ExecTool: Tool {
    /// What every child starts from; the tool's `env` table is laid over it.
    static let baseEnvironment: [String: String] = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    ]
    /// How much of stderr a failure quotes: its end, where programs say what went wrong.
    static let stderrTailBytes = 8 << 10

    public let definition: ToolDefinition
    private let exec: ToolConfig.Exec
    private let maxOutputBytes: Int
    private let environment: Environment
    private let logger: Logger

    /// - Parameters:
    ///   - maxOutputBytes: stdout beyond this fails the call (and kills the program) rather than
    ///     growing without bound.
    public init(config: ToolConfig, exec: ToolConfig.Exec, maxOutputBytes: Int = 4 << 20, logger: Logger) {
        let program = exec.argv.first ?? ""
        definition = ToolDefinition(config: config, description: "Runs \(program).", inputSchema: ["type": "object"])
        self.exec = exec
        self.maxOutputBytes = max(0, maxOutputBytes)
        var variables: [Environment.Key: String] = [:]
        for (name, value) in Self.baseEnvironment.merging(exec.environment, uniquingKeysWith: { _, configured in configured }) {
            if let key = Environment.Key(rawValue: name) { variables[key] = value }
        }
        // Not `.custom([[UInt8]])`: Subprocess 1.0.2 passes those rows to strdup as they are, so
        // each would need its own NUL terminator.
        environment = .custom(variables)
        _ = execSIGPIPEIgnored
        var logger = logger
        logger[metadataKey: "tool.name"] = "\(config.name)"
        self.logger = logger
    }

    public func call(_ arguments: JSONObject) async throws -> ToolOutput {
        try Task.checkCancellation()
        guard let program = exec.argv.first, !program.isEmpty else {
            return .failure("exec tool \(definition.name) has no program to run (argv is empty)")
        }

        var input = JSONWriter.bytes(.object(arguments))
        input.append(UInt8(ascii: "\n"))

        var options = PlatformOptions()
        options.processGroupID = 0
        // Teardown runs when the calling task is cancelled: kill the whole group at once. The
        // default sequence signals the leader only, and stops as soon as it exits, leaving its
        // children running.
        options.teardownSequence = [
            .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(100))
        ]
        let configuration = Configuration(
            executable: .path(FilePath(program)),
            arguments: Arguments(Array(exec.argv.dropFirst())),
            environment: environment,
            workingDirectory: exec.workingDirectory.map { FilePath($0) },
            platformOptions: options
        )

        let maxOutputBytes = maxOutputBytes
        var processID: pid_t? = nil
        let started = ContinuousClock.now
        let result: ExecutionResult<ExecCapture, SequenceOutput, SequenceOutput>
        do {
            result = try await Subprocess.run(configuration, input: .inputWriter, output: .sequence, error: .sequence) {
                execution in
                processID = execution.processIdentifier.value
                return await Self.communicate(with: execution, input: input, maxOutputBytes: maxOutputBytes)
            }
        } catch {
            if let processID { Self.killGroup(processID) }
            if Task.isCancelled { throw CancellationError() }
            let text = Self.launchFailure(program: program, workingDirectory: exec.workingDirectory, error: error)
            logger.debug("exec failed", metadata: ["process.error": "\(text)"])
            return .failure(text)
        }

        // The leader is reaped; anything it forked that still runs dies with the group.
        let pid = result.processIdentifier.value
        Self.killGroup(pid)

        let capture = result.closureResult
        var metadata: Logger.Metadata = [
            "process.pid": "\(pid)",
            "process.duration_ms": "\((ContinuousClock.now - started).milliseconds)",
            "process.stdout_bytes": "\(capture.stdout.bytes.count)",
        ]
        switch result.terminationStatus {
        case .exited(let code): metadata["process.exit_code"] = "\(code)"
        case .signaled(let signal): metadata["process.signal"] = "\(signal)"
        }

        // A cancelled `run` returns normally with the group killed by our teardown.
        if Task.isCancelled {
            logger.debug("exec cancelled", metadata: metadata)
            throw CancellationError()
        }
        logger.debug("exec finished", metadata: metadata)

        if capture.stdout.overflowed {
            return .failure("output passed \(maxOutputBytes) bytes; \(program) was stopped")
        }
        switch result.terminationStatus {
        case .exited(0):
            return Self.success(capture.stdout.bytes)
        case .exited(let code):
            let text = Self.withTail("exit code \(code)", capture.stderr)
            if exec.retryExitCodes.contains(Int(code)) { throw ToolFailure.transient(text) }
            return .failure(text)
        case .signaled(let signal):
            return .failure(Self.withTail("killed by signal \(signal)", capture.stderr))
        }
    }
}

/// What the body of `run` collected from a child.
struct ExecCapture: Sendable {
    var stdout: ExecOutputBuffer
    var stderr: ExecOutputTail
}

extension ExecTool {
    /// Feeds stdin while draining stdout and stderr, so a child that echoes its input as it reads
    /// never deadlocks against us. Returns when both outputs end: at EOF, when the child exits
    /// (Subprocess then cancels the reads, even if a grandchild holds the pipes), or when the
    /// calling task is cancelled. Never throws: `run` tears the group down if the body throws.
    static func communicate(
        with execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>,
        input: [UInt8],
        maxOutputBytes: Int
    ) async -> ExecCapture {
        let writer = execution.standardInputWriter
        let standardError = execution.standardError
        return await withTaskGroup(of: ExecOutputTail?.self) { group in
            group.addTask {
                // A child that never reads stdin may exit (EPIPE) or stop reading: neither fails the
                // call. SIGPIPE is ignored process-wide, so EPIPE arrives as an error here.
                _ = try? await writer.write(input)
                try? await writer.finish()
                return nil
            }
            group.addTask {
                var tail = ExecOutputTail(capacity: stderrTailBytes)
                do {
                    for try await chunk in standardError { chunk.withUnsafeBytes { tail.append($0) } }
                } catch {
                    // A read error ends the capture; the exit status still decides the result.
                }
                return tail
            }

            var stdout = ExecOutputBuffer(limit: maxOutputBytes)
            do {
                for try await chunk in execution.standardOutput {
                    guard chunk.withUnsafeBytes({ stdout.append($0) }) else {
                        // Over the limit: stop the program now instead of reading on or letting
                        // it block on a full pipe until its timeout.
                        try? execution.send(signal: .kill, toProcessGroup: true)
                        break
                    }
                }
            } catch {
                // As for stderr.
            }

            var stderr = ExecOutputTail(capacity: stderrTailBytes)
            for await tail in group {
                if let tail { stderr = tail }
            }
            return ExecCapture(stdout: stdout, stderr: stderr)
        }
    }

    /// Exit 0: stdout as text, and as `structuredContent` when it is one JSON object.
    static func success(_ stdout: [UInt8]) -> ToolOutput {
        let text = String(decoding: stdout, as: UTF8.self)
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if let start = stdout.firstIndex(where: { !isSpace($0) }), stdout[start] == UInt8(ascii: "{"),
            let end = stdout.lastIndex(where: { !isSpace($0) }),
            let object = try? JSONParser().parse(Array(stdout[start...end])), object.objectValue != nil
        {
            return ToolOutput(text: text, structuredContent: object)
        }
        return ToolOutput(text: text)
    }

    static func withTail(_ headline: String, _ stderr: ExecOutputTail) -> String {
        let tail = stderr.text
        return tail.isEmpty ? headline : "\(headline): \(tail)"
    }

    /// A clear reason why the program could not start; Subprocess's own text is generic.
    static func launchFailure(program: String, workingDirectory: String?, error: any Error) -> String {
        var info = stat()
        if stat(program, &info) != 0 {
            return "cannot run \(program): \(String(cString: strerror(errno)))"
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            return "cannot run \(program): it is a directory"
        }
        if access(program, X_OK) != 0 {
            return "cannot run \(program): it is not executable"
        }
        if let workingDirectory, access(workingDirectory, X_OK) != 0 {
            return "cannot run \(program): working directory \(workingDirectory): \(String(cString: strerror(errno)))"
        }
        return "cannot run \(program): \(error)"
    }

    /// SIGKILL to the group led by `pid`. The group's id stays reserved while any member lives,
    /// so this cannot reach an unrelated process; ESRCH (nobody left) is the common answer.
    static func killGroup(_ pid: pid_t) {
        guard pid > 0 else { return }
        _ = kill(-pid, SIGKILL)
    }
}

/// Writing to the stdin of a child that has exited raises SIGPIPE, whose default action ends the
/// daemon. NIO ignores it the same way for its sockets; children get default dispositions back
/// (Subprocess resets them at spawn).
private let execSIGPIPEIgnored: Bool = {
    _ = signal(SIGPIPE, SIG_IGN)
    return true
}()

extension Duration {
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
