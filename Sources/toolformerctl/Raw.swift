import ArgumentParser
import ToolformerProtocol

struct Raw: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send any method with JSON params and print the result as JSON.",
        discussion: """
            Examples:
              toolformerctl raw tools/call '{"name":"echo","arguments":{"x":1}}'
              toolformerctl raw initialize '{"protocolVersion":"2025-06-18"}'
            """)
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
