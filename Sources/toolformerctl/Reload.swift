import ArgumentParser
import ToolformerProtocol

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the daemon's configuration file and tools.d/ (admin).",
        discussion: """
            The same as `systemctl reload toolformerd` or SIGHUP, but it answers: a good file \
            applies at once; a bad one changes nothing and the error names the file, the key and \
            the reason (exit 1). Needs root or server.admin_uids / admin_groups (else exit 4).
            """)
    @OptionGroup var options: GlobalOptions

    func run() throws {
        let result = try options.call("daemon/reload")
        if options.json { return Output.line(result.description) }
        if let tools = result["tools"]?.intValue {
            Output.line("reloaded: \(tools) tool\(tools == 1 ? "" : "s")")
        } else {
            Output.line("reloaded")
        }
    }
}
