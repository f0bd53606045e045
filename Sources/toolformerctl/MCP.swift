import ArgumentParser
import ToolformerClient

struct MCP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Be an MCP server on stdin/stdout for an MCP host, by bridging it to the daemon.",
        discussion: """
            Copies stdin to the daemon's socket and the daemon's answers to stdout, line for
            line, so that an MCP host (Claude Desktop, an editor, an agent) uses toolformerd
            as a stdio MCP server: its tools, cache, limits, retries and cancellation, shared
            with every other client of the host's one daemon. Nothing but the daemon's
            messages is written to stdout; problems are reported on stderr, which hosts show
            in their logs.

            An MCP host's configuration:
              {"mcpServers": {"toolformer": {"command": "toolformerctl", "args": ["mcp"]}}}
            with "args": ["mcp", "--socket", "/path/to/toolformerd.sock"] for another socket.

            When stdin ends, the bridge half-closes the connection, lets the daemon answer
            what is still in flight (at most --close-timeout seconds), and exits 0.

            EXIT STATUS
              0    stdin ended and the daemon answered everything
              1    the daemon is not running or refused the connection, went away during
                   the session, or was still busy when --close-timeout passed
              2    usage
            """)
    @OptionGroup var options: GlobalOptions

    @Option(
        name: .customLong("close-timeout"),
        help: ArgumentHelp("Seconds to wait for the daemon's last answers after stdin ends.", valueName: "seconds"))
    var closeTimeout: Double = 10

    func validate() throws {
        guard closeTimeout >= 0, closeTimeout.isFinite else { throw ValidationError("--close-timeout must be a number of seconds, 0 or more") }
    }

    func run() throws {
        // The host shows stderr, and treats any exit as the server's end: 1 for every failure
        // (the other subcommands' 3 and 4 mean nothing to a host).
        let connection: ToolformerConnection
        do {
            connection = try options.connect()
        } catch {
            throw CtlFailure(.requestFailed, "mcp: " + error.message)
        }
        let bridge = StdioBridge(socket: connection.fileDescriptor)
        switch bridge.run(closeTimeout: .milliseconds(Int64(closeTimeout * 1000))) {
        case .finished:
            connection.close()
        case .closeTimedOut:
            throw CtlFailure(
                .requestFailed,
                "mcp: stdin ended, but the daemon had not answered every request within \(closeTimeout) s; they are cancelled")
        }
    }
}
