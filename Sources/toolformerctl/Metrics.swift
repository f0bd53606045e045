import ArgumentParser
import ToolformerProtocol

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's metrics in the Prometheus text format (daemon/metrics).",
        discussion: """
            Example:
              toolformerctl metrics | grep '^toolformer_'
            """)
    @OptionGroup var options: GlobalOptions

    func run() throws {
        let result = try options.call("daemon/metrics")
        if options.json { return Output.line(result.description) }
        Output.block(result["text"]?.stringValue ?? "")
    }
}
