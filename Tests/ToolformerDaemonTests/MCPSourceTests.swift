import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// MCP servers as tool sources, through the real daemon, with a real MCP server: the Swift SDK's
/// `Server` in `toolformer-mcp-testserver`, which records its starts, runs and the cancellations
/// it receives in a state directory.
///
/// Serialized: each test runs a daemon and one to three servers (and Python ones), which in
/// parallel load two cores enough to push other suites' timing bounds.
@Suite(.timeLimit(.minutes(2)), .ownThread, .serialized)
struct MCPSourceTests {
    /// A daemon with MCP servers running the test server, each with a state directory of its own.
    final class MCPDaemon {
        let directory: String
        let daemon: TestDaemon

        /// `servers`: name → extra TOML for its `[mcp_servers.NAME]` table.
        /// `serverEnvironment`: more `env` entries for every server (`, NAME = "value"`).
        init(servers: [String: String], extra: String = "", environment: [String: String] = [:], serverEnvironment: String = "") throws {
            var template = Array("/tmp/toolformer-mcp-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
            directory = String(cString: made)
            for name in servers.keys { mkdir(directory + "/" + name, 0o755) }
            daemon = try TestDaemon(
                config: TestDaemon.config(extra: Self.toml(servers, directory: directory, environment: serverEnvironment) + extra),
                environment: environment)
        }

        static func toml(_ servers: [String: String], directory: String, environment: String = "") -> String {
            servers.sorted { $0.key < $1.key }.map { name, extra in
                """

                [mcp_servers.\(name)]
                command = ["\(TestDaemon.binary("toolformer-mcp-testserver"))"]
                env = { MCP_TEST_STATE_DIR = "\(directory)/\(name)"\(environment) }
                \(extra)

                """
            }.joined()
        }

        deinit { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }

        func lines(_ server: String, _ file: String) -> [String] {
            ((try? TestDaemon.readFile("\(directory)/\(server)/\(file)")) ?? "").split(separator: "\n").map(String.init)
        }

        func pids(_ server: String) -> [pid_t] { lines(server, "pids").compactMap { pid_t($0) } }

        func status(_ server: String) throws -> JSONValue? { try MCPDaemonView(daemon: daemon).status(server) }

        /// Waits until `server` is running with at least `restarts` restarts; returns its status.
        @discardableResult
        func waitRunning(_ server: String, restarts: Int64 = 0, timeout: Duration = .seconds(20)) throws -> JSONValue {
            try MCPDaemonView(daemon: daemon).waitRunning(server, restarts: restarts, timeout: timeout)
        }

        func call(_ name: String, _ arguments: JSONObject = [:], on connection: ToolformerConnection? = nil) throws -> JSONValue {
            try (connection ?? daemon.connect()).call("tools/call", ["name": .string(name), "arguments": .object(arguments)])
        }
    }

    /// Status and call helpers over any daemon.
    struct MCPDaemonView {
        let daemon: TestDaemon

        func status(_ server: String) throws -> JSONValue? {
            try daemon.connect().call("daemon/status")["mcpServers"]?[server]
        }

        @discardableResult
        func waitRunning(_ server: String, restarts: Int64 = 0, timeout: Duration = .seconds(20)) throws -> JSONValue {
            var last: JSONValue? = nil
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                last = try status(server)
                if last?["state"] == "running", (last?["restarts"]?.intValue ?? -1) >= restarts { return last! }
                usleep(20_000)
            }
            throw TestDaemonError("MCP server \(server) not running after \(timeout): \(String(describing: last))\n\(daemon.log)")
        }

        func call(_ name: String, _ arguments: JSONObject = [:]) throws -> JSONValue {
            try daemon.connect().call("tools/call", ["name": .string(name), "arguments": .object(arguments)])
        }
    }

    static func text(_ result: JSONValue) -> String { result["content"]?.arrayValue?.first?["text"]?.stringValue ?? "" }

    /// The daemon's children whose command name is the test server's (comm is cut at 15 bytes).
    static func serverChildren(of daemon: pid_t) -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var children: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = pid_t(name), let stat = try? TestDaemon.readFile("/proc/\(pid)/stat") else { continue }
            // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
            guard let close = stat.lastIndex(of: ")") else { continue }
            let comm = stat[stat.index(after: stat.firstIndex(of: "(") ?? stat.startIndex)..<close]
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, fields[0] != "Z", pid_t(fields[1]) == daemon, comm.hasPrefix("toolformer-mcp") { children.append(pid) }
        }
        return children.sorted()
    }

    /// Gone, or a zombie waiting for PID 1 (which reaps orphans late in this sandbox).
    static func isGone(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 { return errno == ESRCH }
        let stat = (try? TestDaemon.readFile("/proc/\(pid)/stat")) ?? ""
        return stat.split(separator: " ").dropFirst(2).first == "Z"
    }

    @Test func importedToolsAreListedWithValidNamesAndAnswerCalls() async throws {
        let mcp = try MCPDaemon(servers: ["test": ""])
        let status = try mcp.waitRunning("test")
        let tools = try mcp.daemon.connect().call("tools/list")["tools"]?.arrayValue ?? []
        let byName = Dictionary(tools.compactMap { tool in tool["name"]?.stringValue.map { ($0, tool) } }, uniquingKeysWith: { a, _ in a })

        // Ten tools over four pages of three: every page was followed.
        let imported = byName.keys.filter { $0.hasPrefix("test__") }
        #expect(imported.count == 10, "\(imported.sorted())")
        #expect(status["tools"] == 10)
        for name in byName.keys {
            let valid = !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { $0 == 95 || $0 == 45 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
            #expect(valid, "\(name)")
        }
        let add = try #require(byName["test__add"])
        #expect(add["inputSchema"]?["required"] == ["a", "b"])
        #expect(add["annotations"]?["readOnlyHint"] == true)
        #expect(add["_meta"]?["toolformer"]?["mcpServer"] == "test")
        #expect(add["_meta"]?["toolformer"]?["originalName"] == "add")

        // Names outside the rule are mapped, and the list says what they were.
        let dotted = try #require(tools.first { $0["_meta"]?["toolformer"]?["originalName"] == "dotted.name v2" })
        let dottedName = try #require(dotted["name"]?.stringValue)
        #expect(dottedName.hasPrefix("test__dotted_name_v2_"))
        let long = try #require(tools.first { $0["_meta"]?["toolformer"]?["originalName"]?.stringValue?.hasPrefix("a_tool_whose") == true })
        #expect(long["name"]?.stringValue?.utf8.count == 64)

        let sum = try mcp.call("test__add", ["a": 2, "b": 40])
        #expect(sum["isError"] == false)
        #expect(Self.text(sum) == "42")
        #expect(sum["structuredContent"]?["sum"] == 42)
        #expect(Self.text(try mcp.call(dottedName)) == "called dotted.name v2")
        let failed = try mcp.call("test__fail")
        #expect(failed["isError"] == true)
        #expect(Self.text(failed) == "this tool always fails")

        // The daemon's schema check runs before the server is asked.
        let connection = try mcp.daemon.connect()
        let bad = rpcError { () throws(CallError) in
            try connection.call("tools/call", ["name": "test__add", "arguments": ["a": 1]])
        }
        #expect(bad?.rpcCode == -32602)

        // Its stderr is in the daemon's log, with the server's name.
        let pid = try #require(mcp.pids("test").first)
        #expect(status["pid"] == .int(Int64(pid)))
        try waitUntil(timeout: .seconds(5)) { mcp.daemon.log.contains("testserver started pid \(pid)") }
        let line = mcp.daemon.log.split(separator: "\n").first { $0.contains("testserver started pid") } ?? ""
        #expect(line.contains("mcp.server=test"), "\(line)")
    }

    @Test func twoClientsShareOneServerProcess() async throws {
        let mcp = try MCPDaemon(servers: ["test": ""])
        try mcp.waitRunning("test")
        let first = try mcp.daemon.connect()
        let second = try mcp.daemon.connect()
        // Interleaved and pipelined from both connections.
        var ids: [(ToolformerConnection, RequestID)] = []
        for index in 0..<10 {
            let connection = index % 2 == 0 ? first : second
            ids.append((connection, try connection.sendRequest("tools/call", ["name": "test__echo", "arguments": ["text": .string("n\(index)")]])))
        }
        var servedBy: Set<Int64> = []
        var answered = 0
        for connection in [first, second] {
            // Responses come in any order: read this connection's five.
            for _ in 0..<5 {
                let reply = try connection.readMessage(timeout: .seconds(10))
                #expect(reply["result"]?["isError"] == false, "\(reply)")
                if let pid = reply["result"]?["structuredContent"]?["pid"]?.intValue { servedBy.insert(pid) }
                answered += 1
            }
        }
        #expect(answered == ids.count)
        #expect(servedBy.count == 1)
        #expect(mcp.pids("test").count == 1)
        #expect(Self.serverChildren(of: mcp.daemon.pid).count == 1)
        #expect(servedBy.first.map { pid_t($0) } == Self.serverChildren(of: mcp.daemon.pid).first)
    }

    @Test func aKilledServerIsRestartedAndServesAgain() async throws {
        let mcp = try MCPDaemon(servers: ["test": "retry = { max_attempts = 1 }"])
        try mcp.waitRunning("test")
        let old = try #require(mcp.pids("test").first)

        // A call in flight when the server dies ends with a tool error, not a hang.
        let connection = try mcp.daemon.connect()
        let slow = try connection.sendRequest("tools/call", ["name": "test__slow", "arguments": ["ms": 20000]])
        usleep(200_000)
        let killed = ContinuousClock.now
        kill(old, SIGKILL)
        let inFlight = try response(to: slow, on: connection).response
        #expect(ContinuousClock.now - killed < .seconds(5))
        #expect(inFlight["result"]?["isError"] == true, "\(inFlight)")
        #expect(Self.text(inFlight["result"] ?? .null).contains("stopped during the call"), "\(inFlight)")

        // Its tools stay listed; calls meanwhile say the server is unavailable, at once.
        #expect(try mcp.daemon.connect().call("tools/list")["tools"]?.arrayValue?.contains { $0["name"] == "test__echo" } == true)
        var sawUnavailable = false
        for _ in 0..<50 where !sawUnavailable {
            let started = ContinuousClock.now
            let result = try mcp.call("test__echo", ["text": "hi"])
            #expect(ContinuousClock.now - started < .seconds(5))
            if result["isError"] == true {
                #expect(Self.text(result).contains("MCP server test is unavailable"), "\(result)")
                sawUnavailable = true
            } else {
                break
            }
        }
        #expect(sawUnavailable)

        let status = try mcp.waitRunning("test", restarts: 1)
        let pids = mcp.pids("test")
        #expect(pids.count == 2)
        #expect(status["pid"] == .int(Int64(pids.last ?? 0)))
        #expect(status["lastError"] == nil || status["lastError"] == .null)
        let echoed = try mcp.call("test__echo", ["text": "back"])
        #expect(Self.text(echoed) == "back")
        #expect(echoed["structuredContent"]?["pid"] == .int(Int64(pids.last ?? 0)))

        // A server that exits on its own is restarted the same way.
        let crashed = try mcp.call("test__crash")
        #expect(crashed["isError"] == true)
        try mcp.waitRunning("test", restarts: 2)
        #expect(mcp.pids("test").count == 3)
        #expect(mcp.daemon.log.contains("crashing on request"))
    }

    @Test func aServerThatStopsAnsweringPingsIsRestarted() async throws {
        let mcp = try MCPDaemon(servers: ["test": "ping_interval_ms = 300\ntimeout_ms = 500\nretry = { max_attempts = 1 }"])
        try mcp.waitRunning("test")
        let frozen = try #require(mcp.pids("test").first)
        let result = try mcp.call("test__freeze")
        #expect(result["isError"] == true)
        try mcp.waitRunning("test", restarts: 1)
        #expect(mcp.pids("test").count == 2)
        try waitUntil(timeout: .seconds(5)) { Self.isGone(frozen) }
        #expect(mcp.daemon.log.contains("ping got no answer"), "\(mcp.daemon.log)")
    }

    @Test func cancellationAndTimeoutsReachTheServerAsNotificationsCancelled() async throws {
        let mcp = try MCPDaemon(servers: ["test": ""])
        try mcp.waitRunning("test")
        let connection = try mcp.daemon.connect()
        let id = try connection.sendRequest("tools/call", ["name": "test__slow", "arguments": ["ms": 20000]])
        usleep(300_000)
        try connection.sendNotification("notifications/cancelled", ["requestId": id.json])
        expectError(try response(to: id, on: connection).response, code: -32800, name: "cancelled", id: id.json)
        try waitUntil(timeout: .seconds(5)) { mcp.lines("test", "cancelled").contains("slow task cancelled") }
        #expect(mcp.lines("test", "cancelled").filter { $0.hasPrefix("notification") }.count == 1)

        // The request's deadline passing cancels the server's work the same way.
        let timedOut = rpcError { () throws(CallError) in
            try connection.call("tools/call", ["name": "test__slow", "arguments": ["ms": 20000], "timeoutMs": 300])
        }
        #expect(timedOut?.rpcCode == -32001)
        try waitUntil(timeout: .seconds(5)) { mcp.lines("test", "cancelled").filter { $0 == "slow task cancelled" }.count == 2 }
        #expect(mcp.lines("test", "cancelled").filter { $0.hasPrefix("notification") }.count == 2)
        // And the server is still the same one, serving.
        #expect(Self.text(try mcp.call("test__echo", ["text": "still here"])) == "still here")
        #expect(mcp.pids("test").count == 1)
    }

    @Test func cachedResultsDoNotReachTheServer() async throws {
        let mcp = try MCPDaemon(servers: ["test": "cache_ttl_s = 60"])
        try mcp.waitRunning("test")
        let first = try mcp.call("test__count", ["key": "a"])
        let second = try mcp.call("test__count", ["key": "a"])
        #expect(Self.text(first) == "run 1")
        #expect(Self.text(second) == "run 1")
        #expect(second["_meta"]?["toolformer"]?["cached"] == true)
        #expect(mcp.lines("test", "runs").count == 1)
        #expect(Self.text(try mcp.call("test__count", ["key": "b"])) == "run 2")
    }

    @Test func listChangedNotificationsReListTheTools() async throws {
        let mcp = try MCPDaemon(servers: ["test": ""])
        try mcp.waitRunning("test")
        let names = { () throws -> [String] in
            try mcp.daemon.connect().call("tools/list")["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        }
        #expect(try !names().contains("test__extra"))
        #expect(Self.text(try mcp.call("test__add_tool")) == "added")
        try waitUntil(timeout: .seconds(5)) { try names().contains("test__extra") }
        #expect(Self.text(try mcp.call("test__extra")) == "called extra")
    }

    @Test func aReloadRestartsOnlyTheServerWhoseConfigurationChanged() async throws {
        let mcp = try MCPDaemon(servers: ["alpha": "", "beta": "", "gamma": ""])
        for name in ["alpha", "beta", "gamma"] { try mcp.waitRunning(name) }
        let alphaPid = try #require(mcp.pids("alpha").first)
        let gammaPid = try #require(mcp.pids("gamma").first)

        // beta gets a new environment variable, gamma is removed, delta is added.
        let config = TestDaemon.config(
            extra: MCPDaemon.toml(["alpha": ""], directory: mcp.directory)
                + MCPDaemon.toml(["beta": ""], directory: mcp.directory, environment: ", EXTRA = \"1\"")
                + MCPDaemon.toml(["delta": ""], directory: mcp.directory))
        mkdir(mcp.directory + "/delta", 0o755)
        try mcp.daemon.writeConfig(config)
        _ = try mcp.daemon.connect().call("daemon/reload")

        try waitUntil(timeout: .seconds(20)) { mcp.pids("beta").count == 2 }
        try mcp.waitRunning("beta")
        try mcp.waitRunning("delta")
        try waitUntil(timeout: .seconds(5)) { Self.isGone(gammaPid) }
        #expect(mcp.pids("alpha") == [alphaPid])
        #expect(try mcp.status("alpha")?["restarts"] == 0)
        #expect(try mcp.status("gamma") == nil)
        let names = try mcp.daemon.connect().call("tools/list")["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(!names.contains("gamma__echo"))
        #expect(names.contains("delta__echo"))
        #expect(Self.text(try mcp.call("beta__echo", ["text": "new"])) == "new")
        #expect(Self.serverChildren(of: mcp.daemon.pid).count == 3)
    }

    @Test func stoppingTheDaemonTerminatesAndReapsEveryServer() async throws {
        // Besides two real servers, one that ignores both the end of its stdin and SIGTERM, and
        // has forked a child: only SIGKILL to its process group ends them.
        let stubborn = "\n[mcp_servers.stubborn]\ncommand = [\"/bin/sh\", \"-c\", \"trap '' TERM; /bin/sleep 1000 & exec /bin/sleep 1000\"]\n"
        let mcp = try MCPDaemon(servers: ["one": "", "two": ""], extra: stubborn)
        try mcp.waitRunning("one")
        try mcp.waitRunning("two")
        var stubbornPid: pid_t = 0
        try waitUntil(timeout: .seconds(5)) {
            stubbornPid = pid_t(try mcp.status("stubborn")?["pid"]?.intValue ?? 0)
            return stubbornPid > 0
        }
        let children = Self.serverChildren(of: mcp.daemon.pid)
        #expect(children.count == 2)
        // The stubborn one's whole group: the shell became sleep, and its forked sleep.
        var group: [pid_t] = []
        try waitUntil(timeout: .seconds(5)) {
            group = Self.processes(inGroup: stubbornPid)
            return group.count == 2
        }

        let started = ContinuousClock.now
        #expect(try mcp.daemon.stop() == 0)
        let took = ContinuousClock.now - started
        for pid in children + mcp.pids("one") + mcp.pids("two") + group { #expect(Self.isGone(pid), "\(pid)") }
        // The real servers left on their own when their stdin closed, as MCP asks of them...
        #expect(mcp.daemon.log.components(separatedBy: "testserver stdin closed; exiting").count == 3, "\(mcp.daemon.log)")
        #expect(mcp.daemon.log.components(separatedBy: "process.status=\"exit code 0\"").count == 3)
        // ...the stubborn one got 2 s after that, then SIGTERM, 2 s more, then SIGKILL.
        #expect(mcp.daemon.log.contains("process.status=\"signal 9\""))
        #expect(took >= .milliseconds(3500), "\(took)")
        #expect(took < .seconds(15), "\(took)")
    }

    /// Live processes whose process group is `group`.
    static func processes(inGroup group: pid_t) -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var members: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = pid_t(name), let stat = try? TestDaemon.readFile("/proc/\(pid)/stat"),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After "(comm)": state ppid pgrp ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group { members.append(pid) }
        }
        return members
    }

    @Test func aServerThatCannotStartIsReportedAndTheDaemonStillServes() async throws {
        let mcp = try MCPDaemon(servers: [:], extra: "\n[mcp_servers.broken]\ncommand = [\"/nonexistent/mcp-server\"]\n")
        try waitUntil(timeout: .seconds(10)) {
            (try mcp.status("broken")?["lastError"]?.stringValue)?.contains("cannot run /nonexistent/mcp-server") == true
        }
        #expect(try mcp.status("broken")?["state"] != "running")
        #expect(Self.text(try mcp.daemon.connect().call("tools/call", ["name": "echo", "arguments": ["x": 1]])).contains("\"x\""))
    }

    /// A real Streamable HTTP MCP server: Tests/Fixtures/mcp_http_server.py on the Python `mcp`
    /// package, which answers only requests with the configured bearer token.
    final class PythonHTTPServer {
        let state: String
        let environment: [String: String]
        let python: String
        var pid: pid_t = 0
        private(set) var port = 0

        static let script: String = {
            var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
            parts.removeLast(2)
            return parts.joined(separator: "/") + "/Fixtures/mcp_http_server.py"
        }()

        init(state: String, json: Bool = false) throws {
            self.state = state
            mkdir(state, 0o755)
            let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
            let home = getenv("HOME").map { String(cString: $0) } ?? "/root"
            var environment = ["PATH": path, "HOME": home, "MCP_TEST_STATE_DIR": state]
            if json { environment["MCP_TEST_JSON"] = "1" }
            self.environment = environment
            // The interpreter that has the mcp package, resolved once through PATH.
            let found = state + "/python"
            let probe = try TestDaemon.spawn(
                ["/usr/bin/env", "python3", "-c", "import sys, mcp; print(sys.executable, end='')"],
                environment: environment, output: found)
            var status: Int32 = 0
            waitpid(probe, &status, 0)
            python = (try? TestDaemon.readFile(found)) ?? ""
            guard status == 0, python.hasPrefix("/") else {
                throw TestDaemonError("python3 with the mcp package is needed (pip install mcp): \(python)")
            }
            try start()
        }

        /// Starts it (again, on the same port after the first time) and waits for its port file.
        func start() throws {
            unlink(state + "/port")
            var environment = environment
            if port != 0 { environment["MCP_TEST_PORT"] = String(port) }
            pid = try TestDaemon.spawn([python, Self.script], environment: environment, output: state + "/server.log")
            try waitUntil(timeout: .seconds(20)) { (try? TestDaemon.readFile(state + "/port")).flatMap { Int($0) } != nil }
            port = Int(try TestDaemon.readFile(state + "/port")) ?? 0
        }

        func kill() {
            _ = Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }

        deinit { kill() }
    }

    @Test func aStreamableHTTPServerServesThroughTheDaemonAndIsReconnected() async throws {
        var template = Array("/tmp/toolformer-mcp-http-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }
        // One server answering with event streams, one with plain JSON.
        let sse = try PythonHTTPServer(state: directory + "/sse")
        let json = try PythonHTTPServer(state: directory + "/json", json: true)
        let tables = [("web", sse), ("webjson", json)].map { name, server in
            """

            [mcp_servers.\(name)]
            url = "http://127.0.0.1:\(server.port)/mcp"
            headers = { Authorization = "Bearer s3cret-token" }
            cache_ttl_s = 60
            ping_interval_ms = 300
            retry = { max_attempts = 1 }

            """
        }
        let daemon = try TestDaemon(config: TestDaemon.config(extra: tables.joined()))
        let mcp = MCPDaemonView(daemon: daemon)
        try mcp.waitRunning("web")
        try mcp.waitRunning("webjson")
        func expectGrows(_ name: String) throws {
            #expect(Self.text(try mcp.call("web__grow", ["name": .string(name)])) == "added \(name)")
            try waitUntil(timeout: .seconds(10)) {
                try daemon.connect().call("tools/list")["tools"]?.arrayValue?.contains { $0["name"] == .string("web__" + name) } == true
            }
            #expect(Self.text(try mcp.call("web__" + name)) == "I am \(name)")
        }

        let names = try daemon.connect().call("tools/list")["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        for name in ["web__echo", "web__count", "web__slow", "webjson__echo"] { #expect(names.contains(name), "\(names)") }
        #expect(Self.text(try mcp.call("web__echo", ["text": "over sse"])) == "over sse")
        #expect(Self.text(try mcp.call("webjson__echo", ["text": "over json"])) == "over json")

        // A tool list change the server announces on its own (on the GET stream) is listed.
        try expectGrows("late")

        // Cached results skip the server.
        #expect(Self.text(try mcp.call("web__count")) == "run 1")
        let again = try mcp.call("web__count")
        #expect(again["_meta"]?["toolformer"]?["cached"] == true)
        #expect(((try? TestDaemon.readFile(sse.state + "/runs")) ?? "").split(separator: "\n").count == 1)

        // Cancellation reaches it.
        let connection = try daemon.connect()
        let id = try connection.sendRequest("tools/call", ["name": "web__slow", "arguments": ["ms": 20000]])
        usleep(300_000)
        try connection.sendNotification("notifications/cancelled", ["requestId": id.json])
        expectError(try response(to: id, on: connection).response, code: -32800, name: "cancelled", id: id.json)
        try waitUntil(timeout: .seconds(5)) { ((try? TestDaemon.readFile(sse.state + "/cancelled")) ?? "").contains("slow task cancelled") }

        // Down: found by the pings, calls say so at once; back: a new session serves again.
        sse.kill()
        try waitUntil(timeout: .seconds(10)) { try mcp.status("web")?["state"] != "running" }
        let down = try mcp.call("web__echo", ["text": "x"])
        #expect(down["isError"] == true)
        #expect(Self.text(down).contains("MCP server web is unavailable"), "\(down)")
        try sse.start()
        try mcp.waitRunning("web", restarts: 1, timeout: .seconds(30))
        #expect(Self.text(try mcp.call("web__echo", ["text": "back"])) == "back")
        // The new session has a GET stream of its own.
        try expectGrows("again")

        // The header's value is a secret: never in the log or the status.
        #expect(!daemon.log.contains("s3cret-token"))
        #expect(!(try daemon.connect().call("daemon/status").description.contains("s3cret-token")))
    }
}
