import ArgumentParser
import ToolformerClient
import ToolformerProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Options every subcommand takes: where the daemon is, JSON output, how long to wait.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The daemon's socket. Default: $TOOLFORMER_SOCKET, else (as root) /run/toolformer/toolformerd.sock, else $XDG_RUNTIME_DIR/toolformer/toolformerd.sock when it exists, else the system socket.",
            valueName: "path"),
        completion: .file())
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's result as JSON on one line, for scripts.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds to wait for the daemon's answer. Default: 60, except for call, batch and orchestrate, which wait as long as the daemon works on them (its orchestrator.max_request_ms bounds that).",
            valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    var socketPath: String {
        socket ?? SocketPath.clientDefault(environment: processEnvironment(), uid: getuid())
    }

    /// How long a quick command waits.
    var wait: Duration { .milliseconds(Int64((timeout ?? 60) * 1000)) }

    /// How long a call, batch or orchestrate waits: unbounded unless `--timeout` says so.
    var longWait: Duration? { timeout.map { .milliseconds(Int64($0 * 1000)) } }

    /// A connection, or exit 3 with the socket tried and how to start the daemon.
    func connect() throws(CtlFailure) -> ToolformerConnection {
        do {
            return try ToolformerConnection(path: socketPath)
        } catch {
            var message = """
                \(error)
                Is toolformerd running? Start it with `systemctl start toolformerd.socket`, or run
                `toolformerd --config etc/toolformer/toolformerd.toml --socket \(socketPath)` yourself.
                """
            if case .cannotConnect(_, let code) = error, code == EACCES {
                message += "\nThe socket is there but not yours to open: members of its group (toolformer under\nsystemd) may use it, e.g. after `sudo usermod -aG toolformer $USER` and a new login."
            }
            throw CtlFailure(.cannotConnect, message)
        }
    }

    /// Connects and runs one call, mapping failures to the documented exit codes.
    func call(_ method: String, _ params: JSONObject = [:]) throws(CtlFailure) -> JSONValue {
        let connection = try connect()
        do {
            return try connection.call(method, params, timeout: wait)
        } catch {
            throw Self.failure(for: error)
        }
    }

    /// A daemon's error is exit 4 when it is `forbidden`, else 1; a transport failure is 1.
    static func failure(for error: CallError) -> CtlFailure {
        switch error {
        case .rpc(let error):
            return CtlFailure(
                error.name == "forbidden" ? .forbidden : .requestFailed,
                "error \(error.rpcCode) \(error.name): \(error.message)")
        case .client(let error):
            return CtlFailure(.requestFailed, "\(error)")
        }
    }
}
