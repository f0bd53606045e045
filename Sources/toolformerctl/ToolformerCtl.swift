import ArgumentParser
import ToolformerClient
import ToolformerProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Exit codes, documented in `--help` and docs/protocol.md.
enum ExitStatus: Int32 {
    case ok = 0
    case requestFailed = 1
    case usage = 2
    case cannotConnect = 3
    case forbidden = 4
}

struct ToolformerCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toolformerctl",
        abstract: "Talk to toolformerd over its Unix socket.",
        discussion: """
            Exit status: 0 ok, 1 the request failed, 2 usage error, 3 cannot connect to the daemon,
            4 forbidden. The socket is --socket, else $TOOLFORMER_SOCKET, else
            /run/toolformer/toolformerd.sock for root, else $XDG_RUNTIME_DIR/toolformer/toolformerd.sock
            when it exists.
            """,
        version: ToolformerVersion.current,
        subcommands: [Ping.self, Status.self, Raw.self])
}

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The daemon's socket.")
    var socket: String?

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    @Option(name: .long, help: "Seconds to wait for an answer.")
    var timeout: Double = 60

    var socketPath: String {
        socket ?? SocketPath.clientDefault(environment: processEnvironment(), uid: getuid())
    }

    /// Connects and runs one call, mapping failures to the documented exit codes.
    func call(_ method: String, _ params: JSONObject = [:]) throws -> JSONValue {
        let connection: ToolformerConnection
        do {
            connection = try ToolformerConnection(path: socketPath)
        } catch {
            Output.error("""
                \(error)
                Is toolformerd running? Start it with `systemctl start toolformerd.socket`, or run
                `toolformerd --config etc/toolformer/toolformerd.toml --socket \(socketPath)` yourself.
                """)
            throw ExitCode(ExitStatus.cannotConnect.rawValue)
        }
        do {
            return try connection.call(method, params, timeout: .milliseconds(Int64(timeout * 1000)))
        } catch .rpc(let error) {
            Output.error("error \(error.rpcCode) \(error.name): \(error.message)")
            throw ExitCode(error.name == "forbidden" ? ExitStatus.forbidden.rawValue : ExitStatus.requestFailed.rawValue)
        } catch .client(let error) {
            Output.error("\(error)")
            throw ExitCode(ExitStatus.requestFailed.rawValue)
        }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that the daemon answers, and how fast.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        let started = ContinuousClock.now
        let result = try options.call("ping")
        let elapsed = ContinuousClock.now - started
        if options.json {
            Output.line(result.description)
        } else {
            let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
            Output.line("pong from \(options.socketPath) in \(micros) µs")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what the daemon is doing.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        let status = try options.call("daemon/status")
        if options.json {
            Output.line(status.description)
            return
        }
        let uptimeMs = status["uptimeMs"]?.intValue ?? 0
        Output.line("toolformerd \(status["version"]?.stringValue ?? "?") (pid \(status["pid"]?.intValue ?? 0))")
        Output.line("  socket:      \(options.socketPath)")
        Output.line("  uptime:      \(Format.duration(milliseconds: uptimeMs))")
        Output.line("  connections: \(status["connections"]?.intValue ?? 0)")
        Output.line("  in flight:   \(status["inflight"]?.intValue ?? 0)")
        if let tools = status["tools"]?.intValue { Output.line("  tools:       \(tools)") }
        if status["draining"]?.boolValue == true { Output.line("  draining:    yes") }
    }
}

struct Raw: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send any method with JSON params and print the result as JSON.",
        discussion: "Example: toolformerctl raw tools/call '{\"name\":\"echo\",\"arguments\":{\"x\":1}}'")
    @OptionGroup var options: GlobalOptions

    @Argument(help: "The method, e.g. tools/list.")
    var method: String

    @Argument(help: "The params, a JSON object.")
    var params: String = "{}"

    func run() throws {
        let parsed: JSONValue
        do {
            parsed = try JSONParser().parse(params)
        } catch {
            throw ValidationError("params is not valid JSON: \(error.message)")
        }
        guard case .object(let object) = parsed else { throw ValidationError("params must be a JSON object") }
        Output.line(try options.call(method, object).description)
    }
}

enum Format {
    static func duration(milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        if seconds < 86400 { return "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
        return "\(seconds / 86400)d \(seconds % 86400 / 3600)h"
    }
}

/// Writes to fds 1 and 2 (Swift 6 refuses C's `stdout`/`stderr` globals).
enum Output {
    static func line(_ text: String) { write(fd: 1, text + "\n") }
    static func error(_ text: String) { write(fd: 2, "toolformerctl: " + text + "\n") }

    static func write(fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}

@main
enum Main {
    static func main() {
        do {
            var command = try ToolformerCtl.parseAsRoot()
            try command.run()
        } catch {
            let code = ToolformerCtl.exitCode(for: error)
            // ArgumentParser's usage failures exit 64; the documented code is 2.
            if code == .validationFailure {
                Output.write(fd: 2, ToolformerCtl.fullMessage(for: error) + "\n")
                exit(ExitStatus.usage.rawValue)
            }
            if code == .success {
                Output.line(ToolformerCtl.fullMessage(for: error))
                exit(0)
            }
            let message = ToolformerCtl.fullMessage(for: error)
            if !message.isEmpty { Output.error(message) }
            exit(code.rawValue)
        }
    }
}
