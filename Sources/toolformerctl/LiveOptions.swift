import ArgumentParser

/// How call, batch and orchestrate show their progress.
struct LiveOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: "Show events as they happen: tool lines for call and orchestrate, a progress line for batch. Default: on when stdout is a terminal.")
    var progress: Bool?

    @Flag(help: "Print every event as a JSON line on stdout before the result line. Implies --json.")
    var events = false

    /// What the command prints, from these flags, `--json` and whether stdout is a terminal.
    func presentation(json: Bool) -> Presentation {
        if events || json { return .json(events: events) }
        return progress ?? Output.isTerminal ? .live : .plain
    }
}
