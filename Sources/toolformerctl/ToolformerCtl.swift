import ArgumentParser
import ToolformerProtocol

#if canImport(Glibc)
import Glibc
#endif

struct ToolformerCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toolformerctl",
        abstract: "Talk to toolformerd, the host's tool-calling daemon, over its Unix socket.",
        discussion: """
            toolformerctl speaks the daemon's protocol (docs/protocol.md): each subcommand
            is one request. `toolformerctl help SUBCOMMAND` shows its options and examples.
            Options may come before or after the subcommand.

            EXAMPLES
              toolformerctl status
              toolformerctl tools
              toolformerctl call echo city=Paris n=3
              toolformerctl batch calls.json --max-concurrency 8
              toolformerctl orchestrate 'Please run echo(city="Paris") and now().'
              toolformerctl requests
              toolformerctl cancel 7
              toolformerctl raw tools/list
              toolformerctl mcp        (for an MCP host: a stdio MCP server)

            OUTPUT
              Human-readable by default; --json prints the daemon's result as one JSON
              line. call, batch and orchestrate show their events live when stdout is a
              terminal (--progress and --no-progress force it either way); --events
              prints every event as an NDJSON line before the result line.

            SOCKET
              The first of:
                --socket PATH
                $TOOLFORMER_SOCKET
                /run/toolformer/toolformerd.sock, when run as root
                $XDG_RUNTIME_DIR/toolformer/toolformerd.sock, when that file exists
                  (/tmp/toolformer-UID/toolformerd.sock without XDG_RUNTIME_DIR)
                /run/toolformer/toolformerd.sock, the socket of toolformerd.socket
              The system socket is mode 0660, group toolformer: its members may connect
              (if the daemon's server.allowed_groups also lists the group, as shipped).

            EXIT STATUS
              0    ok
              1    the request failed: the daemon answered with an error, the tool's
                   result has isError (call), or any call of the batch failed (batch)
              2    usage: bad flags or arguments, an unreadable or malformed input file
              3    cannot connect to the daemon (the message names the socket tried)
              4    forbidden: this uid may not connect, or may not call an admin method
              130  interrupted by Ctrl-C, after telling the daemon to cancel the request

            SHELL COMPLETION
              toolformerctl --generate-completion-script bash \\
                > /etc/bash_completion.d/toolformerctl
              toolformerctl --generate-completion-script zsh > "${fpath[1]}/_toolformerctl"
              toolformerctl --generate-completion-script fish \\
                > ~/.config/fish/completions/toolformerctl.fish
            """,
        version: ToolformerVersion.current,
        subcommands: [
            Status.self, Tools.self, Call.self, Batch.self, Orchestrate.self, Requests.self, Cancel.self,
            Cache.self, Reload.self, Metrics.self, Ping.self, Raw.self, MCP.self,
        ])
    // Here too, so that `toolformerctl --socket PATH status` works: each subcommand reads the
    // same group from the whole command line.
    @OptionGroup var options: GlobalOptions

    func run() throws { throw ValidationError("a subcommand is missing") }
}

@main
enum Main {
    static func main() {
        do {
            var command = try ToolformerCtl.parseAsRoot()
            try command.run()
        } catch let failure as CtlFailure {
            // The terminal echoed ^C without a newline; start the message on a line of its own.
            if failure.status == .interrupted, isatty(2) == 1 { Output.write(fd: 2, "\n") }
            if !failure.message.isEmpty { Output.error(failure.message) }
            exit(failure.status.rawValue)
        } catch {
            let code = ToolformerCtl.exitCode(for: error)
            // ArgumentParser's usage failures exit 64; the documented code is 2.
            if code == .validationFailure {
                Output.write(fd: 2, ToolformerCtl.fullMessage(for: error) + "\n")
                exit(ExitStatus.usage.rawValue)
            }
            if code == .success {
                // --help, --version, --generate-completion-script.
                Output.block(ToolformerCtl.fullMessage(for: error))
                exit(0)
            }
            let message = ToolformerCtl.fullMessage(for: error)
            if !message.isEmpty { Output.error(message) }
            exit(code.rawValue)
        }
    }
}
