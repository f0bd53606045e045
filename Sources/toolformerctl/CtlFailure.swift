/// A failure a command reports on stderr (unless `message` is empty) and exits with.
struct CtlFailure: Error {
    var status: ExitStatus
    var message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    static func usage(_ message: String) -> Self { Self(.usage, message) }
}
