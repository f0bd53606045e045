import ArgumentParser
import ToolformerProtocol

struct Tools: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the daemon's tools, or show one tool's input schema.",
        discussion: """
            Examples:
              toolformerctl tools                 # name and description of each tool
              toolformerctl tools sleep           # its description and input schema, pretty-printed
              toolformerctl tools --json | jq -r '.tools[].name'
            """)
    @OptionGroup var options: GlobalOptions

    @Argument(help: "A tool to show in full.", completion: ToolNameCompletion.kind)
    var name: String?

    func run() throws {
        let connection = try options.connect()
        let tools: [JSONValue]
        do {
            tools = try connection.listAllTools(timeout: options.wait)
        } catch {
            throw GlobalOptions.failure(for: error)
        }
        guard let name else {
            // All pages as one list: the shape of a single tools/list page.
            if options.json { return Output.line(JSONValue.object(["tools": .array(tools)]).description) }
            if tools.isEmpty { return Output.line("no tools are configured") }
            let rows = [["NAME", "DESCRIPTION"]] + tools.map { tool in
                [tool["name"]?.stringValue ?? "?", Format.oneLine(tool["description"]?.stringValue ?? "", limit: 100)]
            }
            for line in Format.table(rows) { Output.line(line) }
            return
        }
        guard let tool = tools.first(where: { $0["name"]?.stringValue == name }) else {
            throw CtlFailure(.requestFailed, "no tool named \(name); `toolformerctl tools` lists them")
        }
        if options.json { return Output.line(tool.description) }
        Output.line(name)
        if let description = tool["description"]?.stringValue, !description.isEmpty { Output.line("  " + description) }
        Output.line("")
        Output.line("input schema:")
        Output.line(PrettyJSON.string(tool["inputSchema"] ?? ["type": "object"]))
    }
}
