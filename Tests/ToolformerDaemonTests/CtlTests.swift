import Testing
#if canImport(Glibc)
import Glibc
#endif
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

/// The real `toolformerctl` against the real daemon: each subcommand's human and JSON output, and
/// its exit codes.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct CtlTests {
    static let config = TestDaemon.config(extra: """
        [tools.broken]
        kind = "exec"
        description = "Fails on purpose."
        argv = ["/bin/sh", "-c", "echo broken on purpose >&2; exit 3"]

        [tools.cached_echo]
        kind = "builtin"
        builtin = "echo"
        cache_ttl_s = 600

        [providers.mock]
        kind = "mock"

        [orchestrator]
        default_provider = "mock"
        """)

    // MARK: - ping, status, tools

    @Test func pingAndStatusReadWell() async throws {
        let daemon = try TestDaemon(config: Self.config)

        let ping = try ctl(daemon, ["ping"])
        #expect(ping.status == 0, "\(ping)")
        #expect(ping.stdout.hasPrefix("pong from \(daemon.socketPath) in "), "\(ping)")
        #expect(try ctl(daemon, ["ping", "--json"]).json() == [:])
        // Options may come before the subcommand too.
        #expect(try ctl(["--socket", daemon.socketPath, "ping"]).status == 0)

        let status = try ctl(daemon, ["status"])
        #expect(status.status == 0, "\(status)")
        #expect(status.lines.first?.hasPrefix("toolformerd \(ToolformerVersion.current), pid \(daemon.pid), up ") == true, "\(status)")
        for key in ["socket        \(daemon.socketPath)", "connections", "in flight     0", "draining      no", "tools         5",
            "hit rate      n/a (0 hits, 0 misses)", "global        0 running of 512, 0 queued", "mock          mock (mock): 0 requests"]
        {
            #expect(status.lines.contains { $0.hasPrefix("  " + key) }, "\(key)\n\(status)")
        }
        for section in ["cache", "queues", "providers", "http pool"] {
            #expect(status.lines.contains(section), "\(section)\n\(status)")
        }

        // The hit rate is hits / (hits + misses): one miss, then three hits.
        for _ in 0..<4 { #expect(try ctl(daemon, ["call", "cached_echo", "a=1"]).status == 0) }
        let warm = try ctl(daemon, ["status"])
        #expect(warm.lines.contains("  hit rate      75.0% (3 hits, 1 miss)"), "\(warm)")
        #expect(warm.lines.contains { $0.hasPrefix("  entries       1 of 100000, ") }, "\(warm)")

        let json = try ctl(daemon, ["status", "--json"]).json()
        #expect(json["pid"] == .int(Int64(daemon.pid)))
        #expect(json["version"] == .string(ToolformerVersion.current))
        #expect(json["cache"]?["hits"] == 3)
        #expect(json["providers"]?["mock"]?["kind"] == "mock")
    }

    @Test func toolsListsAndShowsSchemas() async throws {
        let daemon = try TestDaemon(config: Self.config)

        let table = try ctl(daemon, ["tools"])
        #expect(table.status == 0, "\(table)")
        #expect(table.lines.first?.hasPrefix("NAME") == true, "\(table)")
        #expect(table.lines.contains { $0.hasPrefix("broken") && $0.hasSuffix("Fails on purpose.") }, "\(table)")
        #expect(table.lines.dropFirst().map { String($0.prefix { $0 != " " }) } == ["broken", "cached_echo", "echo", "now", "sleep"])

        let list = try ctl(daemon, ["tools", "--json"]).json()
        #expect(list["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["broken", "cached_echo", "echo", "now", "sleep"])

        let sleep = try ctl(daemon, ["tools", "sleep"])
        #expect(sleep.status == 0, "\(sleep)")
        #expect(sleep.lines.first == "sleep")
        #expect(sleep.lines.contains("input schema:"), "\(sleep)")
        // Pretty-printed: one member per line, indented.
        #expect(sleep.lines.contains(#"    "ms": {"#), "\(sleep)")
        #expect(sleep.lines.contains(#"  "required": ["#), "\(sleep)")
        let schema = try ctl(daemon, ["tools", "sleep", "--json"]).json()
        #expect(schema["inputSchema"]?["required"] == ["ms"])

        let unknown = try ctl(daemon, ["tools", "nope"])
        #expect(unknown.status == 1, "\(unknown)")
        #expect(unknown.stderr.contains("no tool named nope"), "\(unknown)")
    }

    // MARK: - call

    @Test func callParsesArgumentsAndPrintsTheResult() async throws {
        let daemon = try TestDaemon(config: Self.config)

        // Values are JSON when they parse, strings otherwise.
        let echo = try ctl(daemon, ["call", "echo", "city=Paris", "n=3", #"tags=["a","b"]"#, "flag=true", "zip=\"01234\"", "empty="])
        #expect(echo.status == 0, "\(echo)")
        #expect(try echo.json() == ["city": "Paris", "n": 3, "tags": ["a", "b"], "flag": true, "zip": "01234", "empty": ""])

        // --args, inline or from a file; pairs add to it and win.
        let inline = try ctl(daemon, ["call", "echo", "--args", #"{"a":1,"b":{"c":[1,2]}}"#, "a=2"])
        #expect(try inline.json() == ["a": 2, "b": ["c": [1, 2]]], "\(inline)")
        let file = try ctl(daemon, ["call", "echo", "--args", "@-"], stdin: #"{"from":"stdin"}"#)
        #expect(try file.json() == ["from": "stdin"], "\(file)")

        let json = try ctl(daemon, ["call", "sleep", "ms=5", "--json"])
        #expect(json.status == 0, "\(json)")
        let result = try json.json()
        #expect(result["structuredContent"] == ["sleptMs": 5])
        #expect(result["isError"] == false)
        #expect(result["_meta"]?["toolformer"]?["attempts"] == 1)

        // --timeout-ms is the request's deadline on the daemon.
        let late = try ctl(daemon, ["call", "sleep", "ms=5000", "--timeout-ms", "100"])
        #expect(late.status == 1, "\(late)")
        #expect(late.stderr.contains("-32001 timeout"), "\(late)")
    }

    @Test func callShowsToolLinesAndTheCacheMode() async throws {
        let daemon = try TestDaemon(config: Self.config)

        // --progress forces the live display a terminal gets.
        let first = try ctl(daemon, ["call", "cached_echo", "x=1", "--progress"])
        #expect(first.status == 0, "\(first)")
        #expect(first.lines.first == "▸ cached_echo started", "\(first)")
        #expect(first.lines.dropFirst().first?.hasPrefix("✓ cached_echo ") == true, "\(first)")
        #expect(first.lines.dropFirst().first?.hasSuffix(" ms") == true, "\(first)")
        #expect(first.lines.last == #"{"x":1}"#)

        let hit = try ctl(daemon, ["call", "cached_echo", "x=1", "--progress"])
        #expect(hit.lines.contains { $0.hasPrefix("✓ cached_echo ") && $0.hasSuffix(" ms (cached)") }, "\(hit)")

        // Without a terminal (and without --progress), only the result.
        let plain = try ctl(daemon, ["call", "cached_echo", "x=1"])
        #expect(plain.stdout == "{\"x\":1}\n", "\(plain)")

        let bypass = try ctl(daemon, ["call", "cached_echo", "x=1", "--cache", "bypass", "--json"]).json()
        #expect(bypass["_meta"]?["toolformer"]?["cached"] == false)
        let use = try ctl(daemon, ["call", "cached_echo", "x=1", "--cache", "use", "--json"]).json()
        #expect(use["_meta"]?["toolformer"]?["cached"] == true)
        let refresh = try ctl(daemon, ["call", "cached_echo", "x=1", "--cache", "refresh", "--json"]).json()
        #expect(refresh["_meta"]?["toolformer"]?["cached"] == false)

        let failed = try ctl(daemon, ["call", "broken", "--progress"])
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.lines.contains { $0.hasPrefix("✗ broken: ") && $0.contains("broken on purpose") }, "\(failed)")
    }

    @Test func callExitCodes() async throws {
        let daemon = try TestDaemon(config: Self.config)

        let unknown = try ctl(daemon, ["call", "nope"])
        #expect(unknown.status == 1, "\(unknown)")
        #expect(unknown.stderr.contains("-32602 unknown_tool"), "\(unknown)")

        let badArguments = try ctl(daemon, ["call", "sleep", "ms=soon"])
        #expect(badArguments.status == 1, "\(badArguments)")
        #expect(badArguments.stderr.contains("arguments.ms"), "\(badArguments)")

        // A tool that ran and failed: its text on stderr, exit 1; with --json the result on stdout.
        let broken = try ctl(daemon, ["call", "broken"])
        #expect(broken.status == 1, "\(broken)")
        #expect(broken.stdout.isEmpty, "\(broken)")
        #expect(broken.stderr.contains("broken failed: "), "\(broken)")
        #expect(broken.stderr.contains("broken on purpose"), "\(broken)")
        let brokenJSON = try ctl(daemon, ["call", "broken", "--json"])
        #expect(brokenJSON.status == 1, "\(brokenJSON)")
        #expect(try brokenJSON.json()["isError"] == true)

        // Usage errors are 2, before anything is sent.
        for arguments in [
            ["call"], ["call", "echo", "notapair"], ["call", "echo", "=1"], ["call", "echo", "--cache", "sometimes"],
            ["call", "echo", "--args", "[1]"], ["call", "echo", "--args", "{"], ["call", "echo", "--args", "@/nonexistent/args.json"],
            ["call", "echo", "--timeout-ms", "0"], ["call", "echo", "--timeout", "-1"], ["cancel", "0"], ["cancel", "seven"],
            ["batch"], ["batch", "/nonexistent/calls.json"], ["orchestrate"], ["bogus"], [], ["raw", "ping", "[]"],
        ] {
            let run = try ctl(daemon, arguments)
            #expect(run.status == 2, "\(arguments): \(run)")
            #expect(!run.stderr.isEmpty, "\(arguments): \(run)")
        }
    }

    @Test func cannotConnectNamesTheSocketAndHowToStartTheDaemon() async throws {
        let path = "/tmp/toolformer-ctl-absent-\(getpid()).sock"
        for arguments in [["ping"], ["status"], ["call", "echo", "a=1"], ["batch", "-"], ["orchestrate", "hi"], ["requests"]] {
            let run = try ctl(arguments + ["--socket", path], stdin: #"{"name":"echo"}"#)
            #expect(run.status == 3, "\(arguments): \(run)")
            #expect(run.stderr.contains("cannot connect to \(path)"), "\(arguments): \(run)")
            #expect(run.stderr.contains("systemctl start toolformerd.socket"), "\(arguments): \(run)")
        }
        // TOOLFORMER_SOCKET is not set in the child: the default path is named instead.
        let run = try ctl(["ping"])
        if run.status == 3 { #expect(run.stderr.contains("toolformerd.sock"), "\(run)") }
    }

    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root and setpriv"))
    func forbiddenIsExit4() async throws {
        let open = Self.config.replacing("[server]\n", with: "[server]\nsocket_mode = \"0666\"\n")
        let daemon = try TestDaemon(config: open)
        _ = try TestDaemon.run(["/bin/chmod", "0755", daemon.directory])
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

        for arguments in [["ping"], ["status"], ["call", "echo", "a=1"], ["batch", "-"], ["orchestrate", "hi"]] {
            let run = try ctl(daemon, arguments, stdin: #"{"name":"echo"}"#, launcher: nobody)
            #expect(run.status == 4, "\(arguments): \(run)")
            #expect(run.stderr.contains("-32003 forbidden"), "\(arguments): \(run)")
        }

        // Allowed to connect, but not an admin.
        try daemon.writeConfig(open.replacing("[server]\n", with: "[server]\nallowed_uids = [65534]\n"))
        #expect(try ctl(daemon, ["reload"]).status == 0)
        #expect(try ctl(daemon, ["call", "echo", "a=1"], launcher: nobody).status == 0)
        for arguments in [["reload"], ["cache", "clear"]] {
            let run = try ctl(daemon, arguments, launcher: nobody)
            #expect(run.status == 4, "\(arguments): \(run)")
        }
    }

    // MARK: - Ctrl-C

    @Test func interruptCancelsTheCallOnTheDaemon() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let operator_ = try daemon.connect()
        for extra in [[], ["--progress"]] {
            let process = try CtlProcess(["call", "sleep", "ms=30000", "--socket", daemon.socketPath] + extra)
            try eventually {
                try operator_.call("daemon/requests")["requests"]?.arrayValue?.contains { $0["tool"] == "sleep" } == true
            }
            kill(process.pid, SIGINT)
            let run = try process.wait(timeout: .seconds(10))
            #expect(run.status == 130, "\(run)")
            #expect(run.stderr.contains("interrupted; the daemon cancelled the request"), "\(run)")
            try eventually { try operator_.call("daemon/status")["inflight"] == 0 }
            try eventually { try operator_.call("daemon/requests")["requests"] == [] }
        }
    }

    @Test func interruptCancelsTheBatchAndOrchestrate() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let operator_ = try daemon.connect()
        let runs = [
            (["batch", "-", "--progress"], #"[{"name":"sleep","arguments":{"ms":30000}},{"name":"echo"}]"#),
            (["orchestrate", "Please run sleep(ms=30000)."], ""),
        ]
        for (arguments, stdin) in runs {
            let process = try CtlProcess(arguments + ["--socket", daemon.socketPath], stdin: stdin)
            try eventually { try operator_.call("daemon/status")["inflightByTool"]?["sleep"] == 1 }
            kill(process.pid, SIGINT)
            let run = try process.wait(timeout: .seconds(10))
            #expect(run.status == 130, "\(arguments): \(run)")
            try eventually { try operator_.call("daemon/status")["inflight"] == 0 }
            try eventually { try operator_.call("daemon/requests")["requests"] == [] }
        }
    }

    // MARK: - batch

    @Test func batchFromAFileAndFromNDJSONOnStdin() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let file = daemon.directory + "/calls.json"
        try TestDaemon.writeFile(file, """
            [
              {"name": "echo", "arguments": {"a": 1}},
              {"name": "sleep", "arguments": {"ms": 20}},
              {"name": "sleep", "arguments": {"ms": 5000}, "timeoutMs": 50}
            ]
            """)

        // One call timed out: the table says so, and the exit status is 1.
        let human = try ctl(daemon, ["batch", file])
        #expect(human.status == 1, "\(human)")
        #expect(human.lines.count == 4, "\(human)")
        #expect(human.lines[0].hasPrefix("0  echo   ok ") && human.lines[0].hasSuffix(#"{"a":1}"#), "\(human)")
        #expect(human.lines[1].hasPrefix("1  sleep  ok ") && human.lines[1].hasSuffix(#"{"sleptMs":20}"#), "\(human)")
        #expect(human.lines[2].hasPrefix("2  sleep  error ") && human.lines[2].contains("timeout"), "\(human)")
        #expect(human.lines[3].hasPrefix("3 calls: 2 ok (0 cached), 1 failed, "), "\(human)")
        #expect(human.stderr.contains("1 of 3 calls failed"), "\(human)")

        let json = try ctl(daemon, ["batch", file, "--json"])
        #expect(json.status == 1)
        let results = try #require(try json.json()["results"]?.arrayValue)
        #expect(results.map { $0["isError"] } == [false, false, true])
        #expect(results[2]["_meta"]?["toolformer"]?["error"]?["data"]?["name"] == "timeout")

        // NDJSON on stdin, blank lines skipped.
        let ndjson = try ctl(daemon, ["batch", "-", "--json"], stdin: """
            {"name":"echo","arguments":{"line":1}}

            {"name":"now"}
            {"name":"cached_echo","arguments":{"line":3},"cache":"bypass"}
            """)
        #expect(ndjson.status == 0, "\(ndjson)")
        let lines = try #require(try ndjson.json()["results"]?.arrayValue)
        #expect(lines.map { $0["structuredContent"]?["line"] } == [1, nil, 3])
        #expect(lines[1]["structuredContent"]?["unixMs"]?.intValue != nil)

        // {"calls": [...]} with its own maxConcurrency; the flag overrides it.
        // Sleeps of two seconds, so that one after another (4 s) and side by side (2 s and the
        // client's start) are told apart even on a loaded machine.
        let object = #"{"calls":[{"name":"sleep","arguments":{"ms":2000}},{"name":"sleep","arguments":{"ms":2000}}],"maxConcurrency":1}"#
        let serialStarted = ContinuousClock.now
        let serial = try ctl(daemon, ["batch", "-"], stdin: object)
        #expect(ContinuousClock.now - serialStarted >= .milliseconds(4000))
        #expect(serial.status == 0, "\(serial)")
        #expect(serial.lines.last?.hasPrefix("2 calls: 2 ok (0 cached), 0 failed, ") == true, "\(serial)")
        let started = ContinuousClock.now
        #expect(try ctl(daemon, ["batch", "-", "--max-concurrency", "2"], stdin: object).status == 0)
        #expect(ContinuousClock.now - started < .milliseconds(3800))

        // The live display: one line rewritten with \r, then the table.
        let live = try ctl(daemon, ["batch", file, "--progress"])
        #expect(live.status == 1)
        #expect(live.stdout.hasPrefix("\r\u{1B}[Kbatch 0/3 done, "), "\(live)")
        #expect(live.stdout.contains("\r\u{1B}[Kbatch 3/3 done, 1 error, 0 cached, "), "\(live)")
        #expect(live.lines.last?.hasPrefix("3 calls: 2 ok (0 cached), 1 failed, ") == true, "\(live)")

        // Malformed input is a usage error that names the line.
        let bad = try ctl(daemon, ["batch", "-"], stdin: "{\"name\":\"echo\"}\n{\"name\":\n")
        #expect(bad.status == 2, "\(bad)")
        #expect(bad.stderr.contains("stdin: line 2"), "\(bad)")
        let nameless = try ctl(daemon, ["batch", "-"], stdin: #"[{"arguments":{}}]"#)
        #expect(nameless.status == 2, "\(nameless)")
        #expect(nameless.stderr.contains("calls[0]: name is missing"), "\(nameless)")
        #expect(try ctl(daemon, ["batch", "-"], stdin: "\n\n").status == 2)
        // A call the daemon refuses fails the whole request: 1.
        let refused = try ctl(daemon, ["batch", "-"], stdin: #"[{"name":"echo"},{"name":"nope"}]"#)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("unknown_tool"), "\(refused)")
    }

    // MARK: - events

    @Test func eventsAreNDJSONWithIncreasingSeq() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let runs: [([String], String?)] = [
            (["call", "sleep", "ms=20", "--events"], nil),
            (["call", "echo", "a=1", "--json", "--events"], nil),
            (["batch", "-", "--events"], #"[{"name":"sleep","arguments":{"ms":30}},{"name":"echo"},{"name":"now"}]"#),
            (["orchestrate", #"Please run echo(city="Paris") and now()."#, "--events"], nil),
        ]
        for (arguments, stdin) in runs {
            let run = try ctl(daemon, arguments, stdin: stdin)
            #expect(run.status == 0, "\(arguments): \(run)")
            let values = try run.jsonLines()
            let events = values.dropLast()
            #expect(events.count >= 2, "\(arguments): \(run)")
            let seqs = events.compactMap { $0["seq"]?.intValue }
            #expect(seqs.count == events.count, "\(arguments): \(run)")
            #expect(seqs == Array(1...Int64(seqs.count)), "\(arguments): \(run)")
            #expect(events.allSatisfy { $0["type"]?.stringValue != nil && $0["id"] != nil }, "\(arguments): \(run)")
            #expect(events.contains { $0["type"] == "tool.finished" }, "\(arguments): \(run)")
            // The last line is the result.
            #expect(values.last?["seq"] == nil, "\(arguments): \(run)")
        }
        let orchestrate = try ctl(daemon, ["orchestrate", "Please run now().", "--events"]).jsonLines()
        #expect(orchestrate.first?["type"] == "llm.started")
        #expect(orchestrate.last?["stopReason"] == "end_turn")
    }

    // MARK: - orchestrate

    @Test func orchestrateRunsTheMockToolLoop() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let prompt = #"Please run echo(city="Paris") and sleep(ms=20)."#

        let plain = try ctl(daemon, ["orchestrate", prompt])
        #expect(plain.status == 0, "\(plain)")
        #expect(plain.stdout == "echo: {\"city\":\"Paris\"}\nsleep: {\"sleptMs\":20}\n", "\(plain)")

        let live = try ctl(daemon, ["orchestrate", prompt, "--progress"])
        #expect(live.status == 0, "\(live)")
        for line in ["◆ turn 1: asking mock (mock)", "▸ echo started", "▸ sleep started", "◆ turn 2: asking mock (mock)",
            "echo: {\"city\":\"Paris\"}"]
        {
            #expect(live.lines.contains(line), "\(line)\n\(live)")
        }
        #expect(live.lines.contains { $0.hasPrefix("  2 tool calls, ") && $0.contains(" out tokens") }, "\(live)")
        #expect(live.lines.contains { $0.hasPrefix("✓ sleep ") && $0.hasSuffix(" ms") }, "\(live)")
        #expect(live.lines.last?.hasPrefix("— 2 turns, 2 tool calls, ") == true, "\(live)")
        #expect(live.lines.last?.hasSuffix("mock (mock), end_turn") == true, "\(live)")

        let json = try ctl(daemon, ["orchestrate", prompt, "--json"]).json()
        #expect(json["stopReason"] == "end_turn")
        #expect(json["turns"] == 2)
        #expect(json["provider"] == "mock")
        #expect(json["toolCalls"]?.arrayValue?.map { $0["name"] } == ["echo", "sleep"])

        // --tools limits what the model is offered (the mock calls only offered tools).
        let limited = try ctl(daemon, ["orchestrate", prompt, "--tools", "echo", "--json"]).json()
        #expect(limited["toolCalls"]?.arrayValue?.map { $0["name"] } == ["echo"])
        let both = try ctl(daemon, ["orchestrate", prompt, "--tools", "echo,now", "--tools", "sleep", "--json"]).json()
        #expect(both["toolCalls"]?.arrayValue?.map { $0["name"] } == ["echo", "sleep"])

        // The prompt from stdin, a system prompt, and running out of turns: a warning, still 0.
        let short = try ctl(daemon, ["orchestrate", "-", "--max-turns", "1", "--system", "Be brief."], stdin: prompt)
        #expect(short.status == 0, "\(short)")
        #expect(short.stderr.contains("max_turns"), "\(short)")

        let noProvider = try ctl(daemon, ["orchestrate", prompt, "--provider", "nope"])
        #expect(noProvider.status == 1, "\(noProvider)")
        #expect(noProvider.stderr.contains("no provider named nope"), "\(noProvider)")
    }

    // MARK: - requests, cancel

    @Test func requestsAreListedAndCancelledByRef() async throws {
        let daemon = try TestDaemon(config: Self.config)
        #expect(try ctl(daemon, ["requests"]).stdout == "no requests in flight\n")

        let worker = try daemon.connect()
        try worker.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 30000]], id: "long")
        var listed: [JSONValue] = []
        try eventually {
            listed = try ctl(daemon, ["requests", "--json"]).json()["requests"]?.arrayValue ?? []
            return !listed.isEmpty
        }
        let ref = try #require(listed.first?["ref"]?.intValue)
        #expect(listed.first?["tool"] == "sleep")

        let table = try ctl(daemon, ["requests"])
        #expect(table.lines.first?.hasPrefix("REF  METHOD ") == true, "\(table)")
        #expect(table.lines.contains { $0.hasPrefix("\(ref) ") && $0.contains("tools/call") && $0.contains("sleep") }, "\(table)")

        let cancel = try ctl(daemon, ["cancel", String(ref)])
        #expect(cancel.status == 0, "\(cancel)")
        #expect(cancel.stdout == "cancelled request \(ref)\n")
        expectError(try response(to: "long", on: worker).response, code: -32800, name: "cancelled", id: "long")
        try eventually { try ctl(daemon, ["requests"]).stdout == "no requests in flight\n" }

        let gone = try ctl(daemon, ["cancel", String(ref)])
        #expect(gone.status == 1, "\(gone)")
        #expect(gone.stderr.contains("no request in flight has ref \(ref)"), "\(gone)")
    }

    // MARK: - cache, reload, metrics, raw

    @Test func cacheClearReloadAndMetrics() async throws {
        let daemon = try TestDaemon(config: Self.config)
        for _ in 0..<2 { #expect(try ctl(daemon, ["call", "cached_echo", "k=v"]).status == 0) }

        let cleared = try ctl(daemon, ["cache", "clear"])
        #expect(cleared.status == 0, "\(cleared)")
        #expect(cleared.stdout == "removed 1 entry\n", "\(cleared)")
        #expect(try ctl(daemon, ["call", "cached_echo", "k=v", "--json"]).json()["_meta"]?["toolformer"]?["cached"] == false)
        let one = try ctl(daemon, ["cache", "clear", "cached_echo", "--json"]).json()
        #expect(one["removed"] == 1)
        #expect(try ctl(daemon, ["cache", "clear", "echo"]).stdout == "removed 0 entries of echo\n")

        let reload = try ctl(daemon, ["reload"])
        #expect(reload.status == 0, "\(reload)")
        #expect(reload.stdout == "reloaded: 5 tools\n", "\(reload)")
        #expect(try ctl(daemon, ["reload", "--json"]).json()["reloaded"] == true)

        // A bad file changes nothing, and the error names the key.
        try daemon.writeConfig(Self.config + "\n[tools.extra]\nkind = \"builtin\"\nbuiltin = \"echo\"\ntimeout_msec = 5\n")
        let refused = try ctl(daemon, ["reload"])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("tools.extra.timeout_msec"), "\(refused)")
        #expect(try ctl(daemon, ["call", "extra"]).status == 1)
        #expect(try ctl(daemon, ["call", "echo", "still=1"]).status == 0)

        // daemon/metrics: its text, or until the daemon serves it, its -32601 like any other error.
        let metrics = try ctl(daemon, ["metrics"])
        if metrics.status == 0 {
            // The text as the daemon wrote it (the counters move between two scrapes).
            #expect(metrics.stdout.hasPrefix("# "), "\(metrics)")
            #expect(metrics.stdout.hasSuffix("\n"))
            let text = try ctl(daemon, ["metrics", "--json"]).json()["text"]?.stringValue ?? ""
            #expect(text.hasPrefix(String(metrics.stdout.prefix { $0 != "\n" })), "\(text.prefix(200))")
        } else {
            #expect(metrics.status == 1, "\(metrics)")
            #expect(metrics.stderr.contains("-32601 method_not_found"), "\(metrics)")
        }
    }

    @Test func rawSendsAnyMethod() async throws {
        let daemon = try TestDaemon(config: Self.config)
        let echo = try ctl(daemon, ["raw", "tools/call", #"{"name":"echo","arguments":{"x":1}}"#])
        #expect(echo.status == 0, "\(echo)")
        #expect(try echo.json()["structuredContent"] == ["x": 1])
        let initialize = try ctl(daemon, ["raw", "initialize", #"{"protocolVersion":"2025-06-18"}"#]).json()
        #expect(initialize["serverInfo"]?["name"] == "toolformerd")
        let missing = try ctl(daemon, ["raw", "no/such/method"])
        #expect(missing.status == 1, "\(missing)")
        #expect(missing.stderr.contains("-32601 method_not_found"), "\(missing)")
        #expect(try ctl(daemon, ["raw", "ping", "{not json"]).status == 2)
    }

    // MARK: - help, completions

    @Test func helpDocumentsExitCodesAndCompletionsGenerate() async throws {
        let help = try ctl(["--help"])
        #expect(help.status == 0, "\(help)")
        for text in ["EXIT STATUS", "130", "interrupted", "SOCKET", "$TOOLFORMER_SOCKET", "$XDG_RUNTIME_DIR", "orchestrate", "SHELL COMPLETION"] {
            let found = help.stdout.contains(text)
            #expect(found, "\(text)")
        }
        for (subcommand, text) in [
            ("call", "key=value"), ("batch", "NDJSON"), ("orchestrate", "--max-turns"), ("cancel", "ref"), ("requests", "REF"),
            ("tools", "input schema"), ("status", "hit rate"), ("reload", "SIGHUP"), ("metrics", "Prometheus"),
        ] {
            let run = try ctl(["help", subcommand])
            #expect(run.status == 0, "\(subcommand): \(run)")
            #expect(run.stdout.contains(text), "\(subcommand): \(text)\n\(run)")
        }
        #expect(try ctl(["cache", "clear", "--help"]).stdout.contains("admin"))
        #expect(try ctl(["--version"]).stdout == ToolformerVersion.current + "\n")

        for shell in ["bash", "zsh", "fish"] {
            let script = try ctl(["--generate-completion-script", shell])
            #expect(script.status == 0, "\(shell): \(script)")
            for word in ["toolformerctl", "orchestrate", "batch", "max-concurrency", "refresh"] {
                let found = script.stdout.contains(word)
                #expect(found, "\(shell): \(word)")
            }
        }
        let bash = try ctl(["--generate-completion-script", "bash"])
        let path = "/tmp/toolformer-ctl-completion-\(getpid()).bash"
        try TestDaemon.writeFile(path, bash.stdout)
        defer { unlink(path) }
        #expect(try TestDaemon.run(["/bin/bash", "-n", path]) == 0)
    }
}
