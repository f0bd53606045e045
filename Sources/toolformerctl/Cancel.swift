import ArgumentParser
import ToolformerProtocol

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a request in flight by its ref (see `toolformerctl requests`).",
        discussion: """
            Its client receives -32800 cancelled and its work stops: a sleep ends, an exec tool's \
            process group is killed, an HTTP request is aborted. Only the request's own uid or an \
            admin may cancel it.

            Example:
              toolformerctl cancel 7
            """)
    @OptionGroup var options: GlobalOptions

    @Argument(help: "The request's ref, as `toolformerctl requests` lists it.")
    var ref: Int

    func validate() throws {
        if ref <= 0 { throw ValidationError("ref must be a positive integer") }
    }

    func run() throws {
        let result = try options.call("daemon/cancel", ["ref": .int(Int64(ref))])
        if options.json { return Output.line(result.description) }
        Output.line("cancelled request \(ref)")
    }
}
