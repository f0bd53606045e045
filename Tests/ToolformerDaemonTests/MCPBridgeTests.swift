import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// `toolformerctl mcp`: a byte-exact stdio bridge to the daemon's socket.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct MCPBridgeTests {
    @Test func helpShowsAHostConfiguration() async throws {
        let help = try ctl(["help", "mcp"])
        #expect(help.status == 0, "\(help)")
        for text in [#"{"mcpServers": {"toolformer": {"command": "toolformerctl", "args": ["mcp"]}}}"#, "--close-timeout", "EXIT STATUS"] {
            #expect(help.stdout.contains(text), "\(text)")
        }
        #expect(try ctl(["--help"]).stdout.contains("mcp"))
        #expect(try ctl(["mcp", "--close-timeout", "-1"]).status == 2)
    }

    @Test func aDaemonThatIsNotRunningIsReportedOnStderrWithExit1() async throws {
        let run = try ctl(["mcp", "--socket", "/tmp/toolformer-no-such-dir/toolformerd.sock"])
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.isEmpty, "\(run)")
        #expect(run.stderr.contains("mcp: cannot connect to /tmp/toolformer-no-such-dir/toolformerd.sock"), "\(run)")
        #expect(run.stderr.contains("Is toolformerd running?"), "\(run)")
    }

    @Test func aSessionOverPipesWithLinesOfMegabytes() async throws {
        let daemon = try TestDaemon()
        let bridge = try PipedProcess([CtlProcess.binary, "mcp", "--socket", daemon.socketPath])
        try bridge.send(#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        let initialized = try bridge.readMessage()
        #expect(initialized["result"]?["protocolVersion"] == "2025-06-18")
        try bridge.send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)

        // 3 MiB of text out and back (twice: as text and as structuredContent).
        let big = String(repeating: "0123456789abcdef", count: 3 << 16)
        try bridge.send(#"{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"echo","arguments":{"s":""# + big + #""}}}"#)
        let echoed = try bridge.readMessage(timeout: .seconds(30))
        #expect(echoed["id"] == "big")
        // Compared as a Bool: a failure must not print megabytes.
        let same = echoed["result"]?["structuredContent"]?["s"]?.stringValue == big
        #expect(same, "the 3 MiB argument did not come back whole")

        // A list_changed from a reload reaches the host through the bridge.
        try daemon.writeConfig(TestDaemon.config(extra: "[tools.added]\nkind = \"builtin\"\nbuiltin = \"echo\"\n"))
        _ = try daemon.connect().call("daemon/reload")
        #expect(try bridge.readMessage()["method"] == "notifications/tools/list_changed")

        // Requests still in flight when stdin ends are answered before the bridge exits 0.
        try bridge.send(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":300}}}"# + "\n" + #"{"jsonrpc":"2.0","id":8,"method":"ping"}"#)
        bridge.closeStdin()
        let rest = try bridge.readToEnd()
        let lines = try rest.split(separator: 10).map { try JSONParser().parse(Array($0)) }
        #expect(Set(lines.compactMap { $0["id"] }) == [7, 8], "\(lines)")
        #expect(lines.first { $0["id"] == 7 }?["result"]?["isError"] == false)
        #expect(try bridge.wait() == 0)
        #expect(bridge.stderr.isEmpty, "\(bridge.stderr)")
    }

    @Test func stdinFromAFileIsAnsweredInFullThenTheBridgeExits() async throws {
        let daemon = try TestDaemon()
        // 100 pipelined requests: under server.max_inflight_per_connection (128).
        var input = ""
        for id in 1...100 { input += #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"echo","arguments":{"n":\#(id)}}}"# + "\n" }
        let run = try ctl(daemon, ["mcp"], stdin: input)
        #expect(run.status == 0, "\(run)")
        #expect(run.stderr.isEmpty, "\(run)")
        let results = try run.jsonLines()
        #expect(results.count == 100)
        #expect(Set(results.compactMap { $0["result"]?["structuredContent"]?["n"]?.intValue }) == Set(1...100))
    }

    @Test func aDaemonThatGoesAwayEndsTheBridgeWithAMessage() async throws {
        let daemon = try TestDaemon()
        let bridge = try PipedProcess([CtlProcess.binary, "mcp", "--socket", daemon.socketPath])
        try bridge.send(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        #expect(try bridge.readMessage()["id"] == 1)
        daemon.signal(SIGKILL)
        #expect(try bridge.wait() == 1)
        #expect(bridge.stderr.contains("mcp: the daemon closed the connection"), "\(bridge.stderr)")
    }

    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root and setpriv"))
    func aRefusedUidIsToldWhyOnStderr() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: #"socket_mode = "0666""#))
        _ = try TestDaemon.run(["/bin/chmod", "0755", daemon.directory])
        let bridge = try PipedProcess([
            "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CtlProcess.binary, "mcp",
            "--socket", daemon.socketPath,
        ])
        // The refusal line reaches the host on stdout as it came, and its reason stderr.
        #expect(try bridge.readMessage()["error"]?["code"] == -32003)
        #expect(try bridge.wait() == 1)
        #expect(bridge.stderr.contains("the daemon closed the connection: error -32003: uid 65534 may not connect"), "\(bridge.stderr)")
    }

    @Test func aDaemonStillBusyAtTheCloseTimeoutEndsTheBridgeWithExit1() async throws {
        let daemon = try TestDaemon()
        let started = ContinuousClock.now
        let run = try ctl(daemon, ["mcp", "--close-timeout", "0.3"], stdin: #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":10000}}}"# + "\n")
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.isEmpty, "\(run)")
        #expect(run.stderr.contains("had not answered"), "\(run)")
        #expect(ContinuousClock.now - started < .seconds(5))
        // The daemon cancelled the abandoned call when the bridge hung up.
        try eventually { try daemon.connect().call("daemon/status")["inflight"] == 0 }
    }
}
