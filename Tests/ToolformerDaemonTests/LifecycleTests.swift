import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// systemd's protocol, socket activation, drain, reload and the socket file, with the real binary.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct LifecycleTests {
    @Test func notifiesSystemdThroughReadyWatchdogReloadAndStop() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        let daemon = try TestDaemon(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "200000"])
        _ = try listener.waitFor("READY=1", timeout: .seconds(10))

        // Pings every WATCHDOG_USEC/2 while the probe gets through the loops and the orchestrator.
        usleep(700_000)
        let pings = listener.messages.filter { $0.split(separator: "\n").contains("WATCHDOG=1") }.count
        #expect(pings >= 3, "\(listener.messages)")

        daemon.signal(SIGHUP)
        let afterReload = try listener.waitFor("RELOADING=1", timeout: .seconds(10))
        let reloading = try #require(afterReload.last { $0.contains("RELOADING=1") })
        let fields = reloading.split(separator: "\n")
        // MONOTONIC_USEC must travel in the same datagram as RELOADING=1.
        let monotonic = try #require(fields.first { $0.hasPrefix("MONOTONIC_USEC=") })
        let usec = try #require(UInt64(monotonic.dropFirst("MONOTONIC_USEC=".count)))
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowUsec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        #expect(usec <= nowUsec && nowUsec - usec < 10_000_000)
        // Then READY=1 again.
        try waitUntil(timeout: .seconds(10)) {
            let messages = listener.messages
            guard let index = messages.lastIndex(where: { $0.contains("RELOADING=1") }) else { return false }
            return messages[(index + 1)...].contains { $0.split(separator: "\n").contains("READY=1") }
        }
        try expectAlive(try daemon.connect())

        #expect(try daemon.stop() == 0)
        #expect(listener.messages.contains { $0.split(separator: "\n").contains("STOPPING=1") })
        let statusLines = listener.messages.flatMap { $0.split(separator: "\n") }.filter { $0.hasPrefix("STATUS=") }
        #expect(!statusLines.isEmpty)
    }

    /// A failing or hung probe stopping the pings is tested on WatchdogService itself
    /// (ToolformerSystemdTests); here, the daemon pings only when systemd asked for it.
    @Test func theWatchdogPingsOnlyWhenSystemdAskedForIt() async throws {
        // Without WATCHDOG_USEC nothing pings; with it but no NOTIFY_SOCKET, everything stays silent.
        let listener = try NotifyListener()
        defer { listener.close() }
        let daemon = try TestDaemon(environment: ["NOTIFY_SOCKET": listener.path])
        _ = try listener.waitFor("READY=1", timeout: .seconds(10))
        usleep(300_000)
        #expect(!listener.messages.contains { $0.contains("WATCHDOG=1") })
        let silent = try TestDaemon(environment: ["WATCHDOG_USEC": "100000"])
        try expectAlive(try silent.connect())
        #expect(try daemon.stop() == 0)
        #expect(try silent.stop() == 0)
    }

    @Test func socketActivationAdoptsTheInheritedSocket() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        var template = Array("/tmp/toolformer-act-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        let socket = directory + "/activated.sock"
        // systemd-socket-activate binds, and starts the daemon (same pid) on the first connection.
        let daemon = try TestDaemon(
            useSocketArgument: false,
            launcher: ["/usr/bin/systemd-socket-activate", "-l", socket, "--setenv=NOTIFY_SOCKET=\(listener.path)"],
            waitUntilReady: false)
        // The file appears at bind, a moment before systemd-socket-activate listens on it.
        var connected: ToolformerConnection?
        try waitUntil(timeout: .seconds(10)) {
            connected = try? ToolformerConnection(path: socket)
            return connected != nil
        }
        let connection = try #require(connected)
        try expectAlive(connection)
        _ = try listener.waitFor("READY=1", timeout: .seconds(10))
        #expect(daemon.log.contains("inherited fd"))
        let status = try connection.call("daemon/status")
        #expect(status["pid"] == .int(Int64(daemon.pid)))
        #expect(try daemon.stop() == 0)
        _ = try TestDaemon.run(["/bin/rm", "-rf", directory])
    }

    @Test func drainFinishesRequestsInFlightAndRefusesNewOnes() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let other = try daemon.connect()
        try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 1500]], id: .int(1))
        for id in 10..<30 {
            try other.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 1000]], id: .int(Int64(id)))
        }
        // All 21 accepted (in flight) before the signal: a request the daemon had not read yet
        // would rightly be refused with -32006, which a loaded machine once made happen.
        let observer = try daemon.connect()
        try waitUntil(timeout: .seconds(5)) { try observer.call("daemon/status")["inflight"] == 21 }
        observer.close()
        daemon.signal(SIGTERM)
        usleep(100_000)
        // New requests on an open connection are refused while the drain runs.
        expectError(try exchange(#"{"id":2,"method":"ping"}"#, on: connection), code: -32006, name: "shutting_down", id: 2)
        let first = try response(to: .int(1), on: connection).response
        #expect(first["result"]?["isError"] == false)
        // Every accepted request on the other connection got its result.
        var answered = Set<Int64>()
        while answered.count < 20 {
            let message = try other.readMessage(timeout: .seconds(10))
            #expect(message["result"]?["isError"] == false)
            answered.insert(try #require(message["id"]?.intValue))
        }
        #expect(try daemon.waitForExit(timeout: .seconds(10)) == 0)
        #expect(throws: ClientError.self) { _ = try daemon.connect() }
    }

    @Test func aLongDrainExtendsSystemdsStopTimeout() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        let daemon = try TestDaemon(environment: ["NOTIFY_SOCKET": listener.path])
        let connection = try daemon.connect()
        try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 2500]], id: 1)
        usleep(100_000)
        daemon.signal(SIGTERM)
        _ = try listener.waitFor("STOPPING=1", timeout: .seconds(5))
        let extend = try #require(waitForExtend(listener))
        #expect((UInt64(extend.dropFirst("EXTEND_TIMEOUT_USEC=".count)) ?? 0) > 1_000_000)
        #expect(try response(to: 1, on: connection).response["result"]?["isError"] == false)
        #expect(try daemon.waitForExit(timeout: .seconds(10)) == 0)
    }

    @Test func drainTimeoutCancelsWhatIsLeftWithShuttingDown() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: "drain_timeout_ms = 300").replacingDrain())
        let connection = try daemon.connect()
        try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 30000]], id: "long")
        usleep(100_000)
        let started = ContinuousClock.now
        daemon.signal(SIGTERM)
        let answer = try response(to: "long", on: connection).response
        expectError(answer, code: -32006, name: "shutting_down", id: "long")
        #expect(try daemon.waitForExit(timeout: .seconds(10)) == 0)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func cancellationEndsARequestWithCancelled() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        try connection.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 30000]], id: 5)
        usleep(50_000)
        let started = ContinuousClock.now
        try connection.sendNotification("notifications/cancelled", ["requestId": 5, "reason": "test"])
        expectError(try response(to: 5, on: connection).response, code: -32800, name: "cancelled", id: 5)
        #expect(ContinuousClock.now - started < .seconds(10))  // far before the 30 s sleep
        let status = try connection.call("daemon/status")
        #expect(status["inflight"] == 0)
    }

    @Test func requestsInFlightAreListedAndCancelledByRef() async throws {
        let daemon = try TestDaemon()
        let worker = try daemon.connect()
        try worker.sendRequest("tools/call", ["name": "sleep", "arguments": ["ms": 30000]], id: "long")
        let operator_ = try daemon.connect()
        var listed: [JSONValue] = []
        try waitUntil(timeout: .seconds(5)) {
            listed = try operator_.call("daemon/requests")["requests"]?.arrayValue ?? []
            return !listed.isEmpty
        }
        let record = try #require(listed.first)
        #expect(record["method"] == "tools/call")
        #expect(record["tool"] == "sleep")
        #expect(record["peerUid"] == .int(Int64(getuid())))
        let ref = try #require(record["ref"]?.intValue)
        #expect(try operator_.call("daemon/cancel", ["ref": .int(ref)])["cancelled"] == true)
        expectError(try response(to: "long", on: worker).response, code: -32800, name: "cancelled", id: "long")
        try waitUntil(timeout: .seconds(5)) { try operator_.call("daemon/requests")["requests"] == [] }
        let unknown = rpcError { () throws(CallError) in try operator_.call("daemon/cancel", ["ref": 999_999]) }
        #expect(unknown?.details["field"] == "ref")
    }

    @Test func reloadAppliesAGoodFileAndKeepsTheOldOneOnABadFile() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        func toolNames() throws -> [String] {
            try connection.call("tools/list")["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        }
        #expect(try toolNames() == ["echo", "now", "sleep"])

        try daemon.writeConfig("[tools.echo]\nkind = \"builtin\"\n")
        let reloaded = try connection.call("daemon/reload")
        #expect(reloaded["reloaded"] == true)
        #expect(try toolNames() == ["echo"])

        try daemon.writeConfig("[tools.echo]\nkind = \"builtin\"\ntimeout_msec = 5\n")
        do {
            _ = try connection.call("daemon/reload")
            Issue.record("a bad file was accepted")
        } catch .rpc(let error) {
            #expect(error.rpcCode == -32602)
            #expect(error.details["file"] == .string(daemon.configPath))
            #expect(error.details["key"] == "tools.echo.timeout_msec")
            #expect(error.details["reason"]?.stringValue?.isEmpty == false)
        }
        #expect(try toolNames() == ["echo"])

        // SIGHUP does the same.
        try daemon.writeConfig(TestDaemon.basicConfig)
        daemon.signal(SIGHUP)
        try waitUntil(timeout: .seconds(10)) { (try? toolNames()) == ["echo", "now", "sleep"] }
        try expectAlive(connection)
    }

    @Test func aBadConfigurationStopsStartupWithFileKeyAndReason() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        let daemon = try TestDaemon(
            config: "[server]\nmax_conections = 5\n", environment: ["NOTIFY_SOCKET": listener.path], waitUntilReady: false)
        #expect(try daemon.waitForExit(timeout: .seconds(10)) == 1)
        #expect(daemon.log.contains(daemon.configPath))
        #expect(daemon.log.contains("server.max_conections"))
        let fatal = try listener.waitFor("ERRNO=22", timeout: .seconds(5))
        #expect(fatal.contains { $0.contains("STATUS=") && $0.contains("ERRNO=") })
    }

    @Test func aLiveSocketIsNeverStolenAndAStaleOneIsReplaced() async throws {
        let first = try TestDaemon()
        let second = try TestDaemon(socket: first.socketPath, waitUntilReady: false)
        #expect(try second.waitForExit(timeout: .seconds(10)) == 1)
        #expect(second.log.contains("already listening"))
        try expectAlive(try first.connect())

        // Killed without cleanup: the socket file stays, nothing answers, the next daemon replaces it.
        first.signal(SIGKILL)
        _ = try first.waitForExit(timeout: .seconds(10))
        #expect(access(first.socketPath, F_OK) == 0)
        let third = try TestDaemon(socket: first.socketPath)
        try expectAlive(try third.connect())

        // A file that is not a socket is never removed.
        let regular = third.directory + "/not-a-socket"
        try TestDaemon.writeFile(regular, "keep me")
        let fourth = try TestDaemon(socket: regular, waitUntilReady: false)
        #expect(try fourth.waitForExit(timeout: .seconds(10)) == 1)
        #expect(try TestDaemon.readFile(regular) == "keep me")
    }

    @Test func theSocketGetsItsModeAndItsDirectory() async throws {
        let nested = try TestDaemon(
            config: TestDaemon.config(server: #"socket_mode = "0640""#),
            socket: "/tmp/toolformer-nested-\(getpid())/a/b/toolformerd.sock")
        var info = stat()
        #expect(stat("/tmp/toolformer-nested-\(getpid())/a/b/toolformerd.sock", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o640)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(try nested.stop() == 0)
        // The daemon removes the socket file it bound when it stops.
        #expect(access("/tmp/toolformer-nested-\(getpid())/a/b/toolformerd.sock", F_OK) != 0)
        _ = try TestDaemon.run(["/bin/rm", "-rf", "/tmp/toolformer-nested-\(getpid())"])
    }

    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root and setpriv"))
    func peersAreAuthorizedByTheirCredentials() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(server: #"socket_mode = "0666""#))
        _ = try TestDaemon.run(["/bin/chmod", "0755", daemon.directory])
        let ctl = TestDaemon.binary("toolformerctl")
        let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ctl]
        // uid 65534 is not allowed: one -32003 line, exit 4.
        #expect(try TestDaemon.run(asNobody + ["ping", "--socket", daemon.socketPath]) == 4)
        #expect(try TestDaemon.run([ctl, "ping", "--socket", daemon.socketPath]) == 0)

        try daemon.writeConfig(TestDaemon.config(server: "socket_mode = \"0666\"\nallowed_uids = [65534]"))
        _ = try daemon.connect().call("daemon/reload")
        #expect(try TestDaemon.run(asNobody + ["ping", "--socket", daemon.socketPath]) == 0)
        // Allowed, but not an admin: daemon/reload is forbidden.
        #expect(try TestDaemon.run(asNobody + ["raw", "daemon/reload", "--socket", daemon.socketPath]) == 4)
        let status = try daemon.connect().call("daemon/status")
        #expect(status["connections"]?.intValue ?? 0 >= 1)
    }
}

extension String {
    /// The basic config already sets drain_timeout_ms; drop that line when a test sets its own.
    func replacingDrain() -> String {
        var lines = split(separator: "\n", omittingEmptySubsequences: false)
        if let first = lines.firstIndex(where: { $0.hasPrefix("drain_timeout_ms") }),
            lines.lastIndex(where: { $0.hasPrefix("drain_timeout_ms") }) != first
        {
            lines.remove(at: first)
        }
        return lines.joined(separator: "\n")
    }
}

/// Waits for an EXTEND_TIMEOUT_USEC= line; the drain sends one about once a second.
func waitForExtend(_ listener: NotifyListener) -> Substring? {
    let deadline = ContinuousClock.now + .seconds(5)
    while ContinuousClock.now < deadline {
        if let line = listener.messages.flatMap({ $0.split(separator: "\n") }).first(where: { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }) {
            return line
        }
        usleep(20_000)
    }
    return nil
}

/// Polls `condition` until it holds.
func waitUntil(timeout: Duration, _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        usleep(10_000)
    }
    throw TestDaemonError("condition not met within \(timeout)")
}
