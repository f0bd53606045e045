/// Exit codes, documented in `--help` and docs/operating.md.
enum ExitStatus: Int32 {
    case ok = 0
    /// The daemon answered with an error, a tool reported `isError`, or a batch call failed.
    case requestFailed = 1
    case usage = 2
    case cannotConnect = 3
    case forbidden = 4
    /// Ctrl-C: 128 + SIGINT, as a shell reports a process killed by it.
    case interrupted = 130
}
