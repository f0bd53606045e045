import ArgumentParser
import ToolformerProtocol

struct Cache: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the daemon's shared result cache.",
        discussion: "`toolformerctl status` shows its size and hit rate.",
        subcommands: [Clear.self])

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove every cached result, or one tool's, from memory and disk (admin).",
            discussion: """
                Needs root or server.admin_uids / admin_groups; anyone else gets exit 4.

                Examples:
                  toolformerctl cache clear
                  toolformerctl cache clear http_get
                """)
        @OptionGroup var options: GlobalOptions

        @Argument(help: "Clear only this tool's entries.", completion: ToolNameCompletion.kind)
        var tool: String?

        func run() throws {
            var params: JSONObject = [:]
            if let tool { params["tool"] = .string(tool) }
            let result = try options.call("cache/clear", params)
            if options.json { return Output.line(result.description) }
            let removed = result["removed"]?.intValue ?? 0
            let fromDisk = result["removedFromDisk"]?.intValue ?? 0
            Output.line(
                "removed \(removed) entr\(removed == 1 ? "y" : "ies")" + (tool.map { " of \($0)" } ?? "")
                    + (fromDisk > 0 ? " (\(fromDisk) from disk)" : ""))
        }
    }
}
