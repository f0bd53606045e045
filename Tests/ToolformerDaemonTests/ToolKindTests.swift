import Synchronization
import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// Exec and HTTP tools through the real daemon: processes, timeouts, cancellation, retries, HTTP.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct ToolKindTests {
    /// Scripts (name → /bin/sh body, with DIR for their directory) in a directory of their own,
    /// each declared as an exec tool with the extra TOML given, and a daemon serving them.
    final class ScriptedDaemon {
        let directory: String
        let daemon: TestDaemon

        init(scripts: [String: (body: String, toml: String)], extra: String = "", environment: [String: String] = [:]) throws {
            var template = Array("/tmp/toolformer-scripts-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
            directory = String(cString: made)
            var extra = extra + "\n"
            for (name, script) in scripts.sorted(by: { $0.key < $1.key }) {
                let path = directory + "/\(name).sh"
                try TestDaemon.writeExecutable(path, "#!/bin/sh\n" + script.body.replacingDir(directory) + "\n")
                extra += "\n[tools.\(name)]\nkind = \"exec\"\nargv = [\"\(path)\"]\n\(script.toml)\n"
            }
            daemon = try TestDaemon(config: TestDaemon.config(extra: extra), environment: environment)
        }

        deinit { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }
    }

    /// The pids a script wrote to `file` (one a line).
    func pids(in file: String) throws -> [pid_t] {
        try TestDaemon.readFile(file).split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Gone, or a zombie waiting for PID 1 (which reaps orphans late in this sandbox).
    func isGone(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 { return errno == ESRCH }
        let stat = (try? TestDaemon.readFile("/proc/\(pid)/stat")) ?? ""
        return stat.split(separator: " ").dropFirst(2).first == "Z"
    }

    func waitGone(_ pids: [pid_t]) throws {
        try waitUntil(timeout: .seconds(5)) { pids.allSatisfy(isGone) }
    }

    static let forkingSleeper = "sleep 300 &\necho $! >> DIR/pids\necho $$ >> DIR/pids\nexec sleep 300"

    @Test func anExecToolPastItsTimeoutIsAnErrorAndItsProcessesAreGone() async throws {
        let scripted = try ScriptedDaemon(scripts: ["hang": (Self.forkingSleeper, "timeout_ms = 300")])
        let result = try scripted.daemon.connect().call("tools/call", ["name": "hang", "arguments": [:]])
        #expect(result["isError"] == true)
        #expect(result["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("timed out") == true)
        let started = try pids(in: scripted.directory + "/pids")
        #expect(started.count == 2)
        try waitGone(started)
    }

    @Test func cancellingOrDisconnectingKillsTheProcessGroup() async throws {
        let scripted = try ScriptedDaemon(scripts: ["hang": (Self.forkingSleeper, "")])
        let connection = try scripted.daemon.connect()
        try connection.sendRequest("tools/call", ["name": "hang", "arguments": [:]], id: 1)
        try waitUntil(timeout: .seconds(5)) { ((try? pids(in: scripted.directory + "/pids")) ?? []).count == 2 }
        let first = try pids(in: scripted.directory + "/pids")
        try connection.sendNotification("notifications/cancelled", ["requestId": 1])
        expectError(try response(to: 1, on: connection).response, code: -32800, name: "cancelled", id: 1)
        try waitGone(first)

        _ = unlink(scripted.directory + "/pids")
        let leaving = try scripted.daemon.connect()
        try leaving.sendRequest("tools/call", ["name": "hang", "arguments": [:]], id: 1)
        try waitUntil(timeout: .seconds(5)) { ((try? pids(in: scripted.directory + "/pids")) ?? []).count == 2 }
        let second = try pids(in: scripted.directory + "/pids")
        leaving.close()
        try waitGone(second)
    }

    @Test func aListedExitCodeIsRetriedUntilItSucceeds() async throws {
        let flaky = """
            count=$(cat DIR/count 2>/dev/null || echo 0)
            count=$((count + 1))
            echo $count > DIR/count
            if [ $count -lt 3 ]; then echo "not yet $count" >&2; exit 75; fi
            cat
            """
        let scripted = try ScriptedDaemon(scripts: [
            "flaky": (flaky, "retry_exit_codes = [75]\nretry = { max_attempts = 3, initial_backoff_ms = 10 }"),
            "broken": ("echo nope >&2\nexit 3", "retry_exit_codes = [75]\nretry = { max_attempts = 3, initial_backoff_ms = 10 }"),
        ])
        let connection = try scripted.daemon.connect()
        let id = try connection.sendRequest("tools/call", ["name": "flaky", "arguments": ["x": 1], "stream": true])
        let (answer, events) = try response(to: id, on: connection)
        let result = try #require(answer["result"])
        #expect(result["isError"] == false)
        #expect(result["structuredContent"] == ["x": 1])
        #expect(result["_meta"]?["toolformer"]?["attempts"] == 3)
        #expect(events.filter { $0["params"]?["type"] == "tool.retry" }.count == 2)
        #expect(events.first { $0["params"]?["type"] == "tool.retry" }?["params"]?["reason"]?.stringValue?.contains("not yet 1") == true)

        // An exit code that is not listed is an error at once.
        let broken = try connection.call("tools/call", ["name": "broken", "arguments": [:]])
        #expect(broken["isError"] == true)
        #expect(broken["_meta"]?["toolformer"]?["attempts"] == 1)
        #expect(broken["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("exit code 3: nope") == true)
    }

    @Test func execChildrenSeeACleanEnvironment() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        let scripted = try ScriptedDaemon(
            scripts: ["env": ("env", "env = { GREETING = \"hi\" }")],
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "10000000", "SECRET_KEY": "sk-do-not-leak"])
        let text = try scripted.daemon.connect().call("tools/call", ["name": "env", "arguments": [:]])["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        #expect(text.contains("GREETING=hi"))
        #expect(text.contains("PATH="))
        for leaked in ["NOTIFY_SOCKET", "WATCHDOG", "LISTEN_", "SECRET_KEY", "sk-do-not-leak", "HOME="] {
            #expect(!text.contains(leaked), "\(leaked) reached the child: \(text)")
        }
    }

    @Test func anHTTPToolEncodesSendsAndRetriesAsItShould() async throws {
        let attempts = Mutex<[String: Int]>([:])
        let server = try TestHTTPServer.startBlocking { request in
            let path = String(request.uri.split(separator: "?").first ?? "")
            let count = attempts.withLock { $0[path, default: 0] += 1; return $0[path]! }
            if path.hasPrefix("/flaky"), count < 3 { return TestHTTPResponse(status: 503, text: "busy") }
            if path.hasPrefix("/missing") { return TestHTTPResponse(status: 404, text: "no such thing") }
            return .json(JSONWriter.string(["uri": .string(request.uri)]))
        }
        defer { try? server.shutdownBlocking() }
        let retry = "retry = { max_attempts = 3, initial_backoff_ms = 10 }"
        let daemon = try TestDaemon(
            config: TestDaemon.config(extra: """
                [tools.weather]
                kind = "http"
                method = "GET"
                url = "\(server.baseURL)/weather/{city}?units={units}"
                headers = { "Authorization" = "Bearer ${WEATHER_TOKEN}" }
                [tools.flaky]
                kind = "http"
                url = "\(server.baseURL)/flaky"
                \(retry)
                [tools.missing]
                kind = "http"
                url = "\(server.baseURL)/missing"
                \(retry)
                """),
            environment: ["WEATHER_TOKEN": "tok-123"])
        let connection = try daemon.connect()
        let weather = try connection.call("tools/call", ["name": "weather", "arguments": ["city": "São Paulo/Centro", "units": "metric"]])
        #expect(weather["isError"] == false)
        #expect(weather["structuredContent"]?["uri"] == "/weather/S%C3%A3o%20Paulo%2FCentro?units=metric")
        #expect(server.requests.first?.header("authorization") == "Bearer tok-123")
        // The token went to the server, but never comes back in a result.
        #expect(!weather.description.contains("tok-123"))

        let flaky = try connection.call("tools/call", ["name": "flaky", "arguments": [:]])
        #expect(flaky["isError"] == false)
        #expect(flaky["_meta"]?["toolformer"]?["attempts"] == 3)

        let missing = try connection.call("tools/call", ["name": "missing", "arguments": [:]])
        #expect(missing["isError"] == true)
        #expect(missing["_meta"]?["toolformer"]?["attempts"] == 1)
        #expect(attempts.withLock { $0["/missing"] } == 1)
        #expect(!daemon.log.contains("tok-123"))
    }
}

extension String {
    /// Puts a script's directory where it says DIR.
    func replacingDir(_ directory: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: "DIR") {
            result += rest[..<range.lowerBound] + directory
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
