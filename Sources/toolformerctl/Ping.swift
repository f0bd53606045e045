import ArgumentParser
import ToolformerProtocol

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the daemon answers, and how fast.",
        discussion: "The daemon answers ping on its event loop, so the time measures the daemon itself.")
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
