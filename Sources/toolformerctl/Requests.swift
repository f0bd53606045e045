import ArgumentParser
import ToolformerProtocol

struct Requests: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the requests in flight on the daemon, with the ref `cancel` takes.",
        discussion: """
            Every client's requests for an admin; your own uid's otherwise. REF is daemon-wide \
            (a JSON-RPC id means something only on its own connection).

            Example:
              toolformerctl requests
              REF  METHOD      TOOL   UID   PID    AGE
              7    tools/call  sleep  1000  41235  12s
            """)
    @OptionGroup var options: GlobalOptions

    func run() throws {
        let result = try options.call("daemon/requests")
        if options.json { return Output.line(result.description) }
        let requests = result["requests"]?.arrayValue ?? []
        if requests.isEmpty { return Output.line("no requests in flight") }
        let now = WallClock.unixMilliseconds()
        let rows = [["REF", "METHOD", "TOOL", "UID", "PID", "AGE"]] + requests.map { request in
            [
                Format.number(request["ref"]), request["method"]?.stringValue ?? "?", request["tool"]?.stringValue ?? "-",
                Format.number(request["peerUid"]), Format.number(request["peerPid"]),
                request["startedMs"]?.intValue.map { Format.duration(milliseconds: max(now - $0, 0)) } ?? "?",
            ]
        }
        for line in Format.table(rows) { Output.line(line) }
    }
}
