import Foundation
import Logging
import MCP
import Subprocess
import Synchronization
import ToolformerCore

#if canImport(System)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#endif

extension MCPServerSupervisor {
    /// What every server starts from; its `env` table is laid over it. Nothing else of the
    /// daemon's environment (NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*, credentials) reaches it.
    static let baseEnvironment: [String: String] = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    ]
    /// A line on stdout longer than this ends the session: no JSON-RPC message is that big.
    static let maxLineBytes = 64 << 20
    /// Stderr lines are logged up to this length, the rest cut.
    static let maxLogLineBytes = 8 << 10

    /// Spawns the server in its own process group with a clean environment and no descriptors
    /// beyond 0-2, speaks MCP over its stdin/stdout, logs its stderr line by line, and returns
    /// when the process has ended (on its own, or terminated by us) and been reaped.
    func runStdio(_ stdio: MCPServerConfig.Stdio) async -> String {
        guard let program = stdio.command.first, !program.isEmpty else { return "command is empty" }
        var variables: [Environment.Key: String] = [:]
        for (name, value) in Self.baseEnvironment.merging(stdio.environment, uniquingKeysWith: { _, configured in configured }) {
            if let key = Environment.Key(rawValue: name) { variables[key] = value }
        }
        var options = PlatformOptions()
        options.processGroupID = 0
        // Used when this task is cancelled (daemon stop, reload): the whole group, TERM then KILL.
        options.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: timing.terminationGrace),
            .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(500)),
        ]
        let configuration = Configuration(
            executable: .path(FilePath(program)),
            arguments: Arguments(Array(stdio.command.dropFirst())),
            environment: .custom(variables),
            workingDirectory: stdio.workingDirectory.map { FilePath($0) },
            platformOptions: options
        )
        let teardown = options.teardownSequence
        let grace = timing.terminationGrace
        let logger = logger
        do {
            let result = try await Subprocess.run(configuration, input: .inputWriter, output: .sequence, error: .sequence) {
                execution in
                let pid = execution.processIdentifier.value
                update { $0.pid = pid }
                logger.info("MCP server started", metadata: ["process.pid": "\(pid)"])
                // The SDK's client logs through its transport's logger; its lines (an "error" each
                // time a server goes away) would repeat ours less clearly, so it gets only critical.
                var sdkLogger = logger
                sdkLogger.logLevel = .critical
                let transport = MCPPipeTransport(writer: execution.standardInputWriter, logger: sdkLogger)
                let client = Client(name: "toolformerd", version: "1")
                // Stderr ends when the process does: how a clean exit after stdin closes is seen.
                let stderrEnded = MCPLatch()
                let reason = await withTaskGroup(of: String?.self) { outer in
                    // Stderr to the log until the process ends; kept out of the session's
                    // cancellation so a crashing server's last words are still logged.
                    outer.addTask {
                        await Self.logLines(execution.standardError, logger: logger)
                        stderrEnded.fire()
                        return nil
                    }
                    // Disconnecting at its end closes the server's stdin: as MCP asks, a server gets
                    // the chance to exit on its own first.
                    let reason = await runSession(client: client, transport: transport) {
                        await Self.readMessages(execution.standardOutput, into: transport)
                    }
                    // (Only when stopping: a server that stopped answering is not waited for.)
                    if stopLatch.isFired && !Task.isCancelled { await Self.wait(for: stderrEnded, atMost: grace) }
                    await execution.teardown(using: teardown)
                    await outer.waitForAll()
                    return reason
                }
                return reason
            }
            let status: String
            switch result.terminationStatus {
            case .exited(let code): status = "exit code \(code)"
            case .signaled(let signal): status = "signal \(signal)"
            }
            logger.info("MCP server ended", metadata: ["process.pid": "\(result.processIdentifier.value)", "process.status": "\(status)"])
            // The group may hold something the server forked.
            _ = kill(-result.processIdentifier.value, SIGKILL)
            let reason = result.closureResult
            return reason == "closed its stdout" ? "the server exited (\(status))" : reason
        } catch {
            return Self.launchFailure(program: program, workingDirectory: stdio.workingDirectory, error: error)
        }
    }

    /// Returns when `latch` fires or `limit` passes, whichever is first.
    static func wait(for latch: MCPLatch, atMost limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await latch.wait() }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Splits stdout into lines and hands each to the transport; returns when stdout ends.
    static func readMessages(_ output: SubprocessOutputSequence, into transport: MCPPipeTransport) async -> String? {
        var pending: [UInt8] = []
        defer { transport.end() }
        do {
            for try await chunk in output {
                chunk.withUnsafeBytes { pending.append(contentsOf: $0) }
                var start = 0
                while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    var line = pending[start..<newline]
                    if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                    if !line.isEmpty { transport.deliver(Data(line)) }
                    start = newline + 1
                }
                pending.removeFirst(start)
                if pending.count > maxLineBytes { return "the server wrote a line over \(maxLineBytes) bytes" }
            }
        } catch {
            if Task.isCancelled { return nil }
            return "reading the server's stdout failed: \(error)"
        }
        return Task.isCancelled ? nil : "closed its stdout"
    }

    /// Logs each stderr line at info with `mcp.server`; returns at EOF.
    static func logLines(_ output: SubprocessOutputSequence, logger: Logger) async {
        var pending: [UInt8] = []
        func emit(_ line: ArraySlice<UInt8>) {
            var text = String(decoding: line.prefix(maxLogLineBytes), as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            if !text.isEmpty { logger.info("\(text)", metadata: ["mcp.stream": "stderr"]) }
        }
        do {
            for try await chunk in output {
                chunk.withUnsafeBytes { pending.append(contentsOf: $0) }
                var start = 0
                while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    emit(pending[start..<newline])
                    start = newline + 1
                }
                pending.removeFirst(start)
                if pending.count > maxLogLineBytes {
                    emit(pending[...])
                    pending.removeAll()
                }
            }
        } catch {
            // The process ended or we were cancelled; what was read is logged below.
        }
        if !pending.isEmpty { emit(pending[...]) }
    }

    static func launchFailure(program: String, workingDirectory: String?, error: any Error) -> String {
        var info = stat()
        if stat(program, &info) != 0 { return "cannot run \(program): \(String(cString: strerror(errno)))" }
        if info.st_mode & S_IFMT == S_IFDIR { return "cannot run \(program): it is a directory" }
        if access(program, X_OK) != 0 { return "cannot run \(program): it is not executable" }
        if let workingDirectory, access(workingDirectory, X_OK) != 0 {
            return "cannot run \(program): working directory \(workingDirectory): \(String(cString: strerror(errno)))"
        }
        return "cannot run \(program): \(error)"
    }
}
