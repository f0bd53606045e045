#if canImport(Glibc)
import Glibc
#endif
import ToolformerProtocol
import ToolformerTesting

/// What a finished `toolformerctl` run left: its exit status and what it wrote.
struct CtlRun: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout's lines, without empty ones.
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// stdout as one JSON value (the `--json` output).
    func json() throws -> JSONValue { try JSONParser(maxDepth: 512).parse(stdout) }

    /// Each stdout line as JSON (the `--events` output).
    func jsonLines() throws -> [JSONValue] { try lines.map { try JSONParser(maxDepth: 512).parse($0) } }

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// The real `toolformerctl` binary in a child process, stdout and stderr each to its own file,
/// stdin from a file or /dev/null: not a terminal, so the plain output unless `--progress`.
final class CtlProcess {
    let pid: pid_t
    private let directory: String
    private var finished: CtlRun?

    static var binary: String { TestDaemon.binary("toolformerctl") }

    /// Starts `launcher + [toolformerctl] + arguments`.
    init(_ arguments: [String], stdin: String? = nil, launcher: [String] = []) throws {
        var template = Array("/tmp/toolformer-ctl-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
        directory = String(cString: made)
        // Another uid (setpriv) must be able to read its stdin here.
        chmod(directory, 0o755)
        if let stdin { try TestDaemon.writeFile(directory + "/stdin", stdin) }

        // TestDaemon.spawn gives the child nothing of this process (no stray descriptors) and its
        // own process group, but one output file: a shell splits stderr off and sets stdin, then
        // execs, so the pid is toolformerctl's (or the launcher's, which execs it in turn).
        let input = stdin == nil ? "/dev/null" : directory + "/stdin"
        let argv = ["/bin/sh", "-c", "exec \"$@\" <'\(input)' 2>'\(directory)/stderr'", "sh"] + launcher + [Self.binary] + arguments
        let pid = try TestDaemon.spawn(
            argv, environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"],
            output: directory + "/stdout")
        self.pid = pid
    }

    deinit {
        if finished == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        _ = try? TestDaemon.run(["/bin/rm", "-rf", directory])
    }

    /// Waits for it to exit (killing it after `timeout`) and returns what it did.
    func wait(timeout: Duration = .seconds(30)) throws -> CtlRun {
        if let finished { return finished }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) != pid {
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw TestDaemonError("toolformerctl did not exit within \(timeout)")
            }
            usleep(5_000)
        }
        let signal = status & 0x7f
        let run = CtlRun(
            status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
            stdout: (try? TestDaemon.readFile(directory + "/stdout")) ?? "",
            stderr: (try? TestDaemon.readFile(directory + "/stderr")) ?? "")
        finished = run
        return run
    }
}

/// Runs `toolformerctl` to completion.
func ctl(_ arguments: [String], stdin: String? = nil, launcher: [String] = [], timeout: Duration = .seconds(30)) throws -> CtlRun {
    try CtlProcess(arguments, stdin: stdin, launcher: launcher).wait(timeout: timeout)
}

/// Runs `toolformerctl` against `daemon`, `--socket` added after the arguments.
func ctl(_ daemon: TestDaemon, _ arguments: [String], stdin: String? = nil, launcher: [String] = []) throws -> CtlRun {
    try ctl(arguments + ["--socket", daemon.socketPath], stdin: stdin, launcher: launcher)
}

/// Polls `condition` until it holds.
func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        usleep(10_000)
    }
    throw TestDaemonError("condition not met within \(timeout)")
}
