import Testing
import ToolformerClient
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

/// toolformerd as an MCP server, over its socket: version negotiation, `tools/list` cursors,
/// `notifications/progress` and `notifications/tools/list_changed`.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct MCPServerTests {
    /// The basic tools (echo, now, sleep) and `count` more echo tools, `e000`, `e001`, ...
    static func manyTools(_ count: Int, first: Int = 0, extra: String = "") -> String {
        var text = ""
        for index in first..<(first + count) {
            text += "[tools.e\(String(index + 1000).dropFirst())]\nkind = \"builtin\"\nbuiltin = \"echo\"\n"
        }
        return TestDaemon.config(extra: text + extra)
    }

    @Test func initializeNegotiatesEachSupportedVersionAndFallsBackToTheNewest() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        for version in ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] {
            let result = try connection.call("initialize", [
                "protocolVersion": .string(version), "capabilities": [:], "clientInfo": ["name": "test", "version": "1"],
            ])
            #expect(result["protocolVersion"] == .string(version))
        }
        for params: JSONObject in [["protocolVersion": "2099-01-01"], ["protocolVersion": "2025-11-24"], [:]] {
            #expect(try connection.call("initialize", params)["protocolVersion"] == "2025-11-25", "\(params)")
        }
        let result = try connection.call("initialize", ["protocolVersion": "2025-11-25"])
        #expect(result["serverInfo"]?["name"] == "toolformerd")
        #expect(result["capabilities"] == ["tools": ["listChanged": true]])
        let refused = rpcError { () throws(CallError) in try connection.call("initialize", ["protocolVersion": 20251125]) }
        #expect(refused?.rpcCode == -32602)
        #expect(refused?.details["field"] == "protocolVersion")

        // notifications/initialized is accepted and never answered: the next line is ping's.
        try connection.sendNotification("notifications/initialized")
        let ping = try connection.sendRequest("ping")
        let next = try connection.readMessage(timeout: .seconds(10))
        #expect(next["id"].flatMap(RequestID.init) == ping)
    }

    @Test func toolsListPagesWithOpaqueCursors() async throws {
        // 3 + 250 tools: pages of 100, 100 and 53.
        let daemon = try TestDaemon(config: Self.manyTools(250))
        let connection = try daemon.connect()
        var names: [String] = []
        var pages: [Int] = []
        var cursor: String?
        repeat {
            let page = try connection.call("tools/list", cursor.map { ["cursor": .string($0)] } ?? [:])
            let tools = try #require(page["tools"]?.arrayValue)
            pages.append(tools.count)
            names += tools.compactMap { $0["name"]?.stringValue }
            cursor = page["nextCursor"]?.stringValue
            if cursor == nil { #expect(page["nextCursor"] == nil, "absent on the last page, not null") }
        } while cursor != nil && pages.count < 10
        #expect(pages == [100, 100, 53])
        #expect(names.count == 253)
        #expect(Set(names).count == 253)
        #expect(names == names.sorted())
        #expect(names.first == "e000")
        #expect(names.contains("echo") && names.contains("sleep") && names.contains("e249"))

        for bad: JSONValue in ["", "nonsense", "t1.zz", "t1.6", "t1.ff", 5, ["after": "e1"]] {
            let error = rpcError { () throws(CallError) in try connection.call("tools/list", ["cursor": bad]) }
            #expect(error?.rpcCode == -32602, "\(bad)")
            #expect(error?.name == "invalid_params", "\(bad)")
            #expect(error?.details["field"] == "cursor", "\(bad)")
        }
        try expectAlive(connection)
    }

    @Test func toolformerctlToolsFollowsTheCursorsToTheLastPage() async throws {
        let daemon = try TestDaemon(config: Self.manyTools(150))
        let table = try ctl(daemon, ["tools"])
        #expect(table.status == 0, "\(table)")
        #expect(table.lines.count == 1 + 153, "a header and every tool")
        #expect(table.lines.last?.hasPrefix("sleep") == true)
        let json = try ctl(daemon, ["tools", "--json"]).json()
        #expect(json["tools"]?.arrayValue?.count == 153)
        #expect(json["nextCursor"] == nil)
        #expect(try ctl(daemon, ["tools", "e149", "--json"]).json()["name"] == "e149")
    }

    @Test func aCursorContinuesAfterItsToolAcrossAReload() async throws {
        let daemon = try TestDaemon(config: Self.manyTools(150))
        let connection = try daemon.connect()
        let first = try connection.call("tools/list")
        let cursor = try #require(first["nextCursor"]?.stringValue)
        let lastListed = try #require(first["tools"]?.arrayValue?.last?["name"]?.stringValue)
        #expect(lastListed == "e099")
        // Tools before the cursor go away and one is added after it: the next page starts right
        // after e099 all the same, with nothing repeated or skipped.
        try daemon.writeConfig(Self.manyTools(100, first: 50))
        _ = try connection.call("daemon/reload")
        let second = try connection.call("tools/list", ["cursor": .string(cursor)])
        let names = second["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.first == "e100")
        #expect(names.contains("e149") && names.contains("echo") && !names.contains("e099"))
        #expect(second["nextCursor"] == nil)
    }

    @Test func progressTokensGetMCPProgressNotifications() async throws {
        let daemon = try TestDaemon(config: TestDaemon.config(extra: """
            [tools.cached]
            kind = "builtin"
            builtin = "echo"
            cache_ttl_s = 600
            """))
        let connection = try daemon.connect()

        // A string token: started, then finished with total = progress. No `event` lines.
        let id = try connection.sendRequest("tools/call", [
            "name": "echo", "arguments": ["x": 1], "_meta": ["progressToken": "tok-1"],
        ])
        let (answer, before) = try response(to: id, on: connection)
        #expect(answer["result"]?["isError"] == false)
        #expect(before.allSatisfy { $0["method"] == "notifications/progress" }, "\(before)")
        #expect(before.map { $0["params"]?["progressToken"] } == ["tok-1", "tok-1"])
        #expect(before.map { $0["params"]?["progress"] } == [1, 2])
        #expect(before[0]["params"]?["total"] == nil)
        #expect(before[1]["params"]?["total"] == 2)
        #expect(before[0]["params"]?["message"]?.stringValue?.contains("echo") == true)
        #expect(before.allSatisfy { $0["id"] == nil })

        // An integer token comes back as that integer; a cached answer says so.
        _ = try connection.call("tools/call", ["name": "cached", "arguments": ["y": 2]])
        let cachedID = try connection.sendRequest("tools/call", [
            "name": "cached", "arguments": ["y": 2], "_meta": ["progressToken": 9_007_199_254_740_993],
        ])
        let cached = try response(to: cachedID, on: connection)
        #expect(cached.before.map { $0["params"]?["progressToken"] } == [9_007_199_254_740_993, 9_007_199_254_740_993])
        #expect(cached.before.last?["params"]?["message"]?.stringValue?.contains("cache") == true)

        // With stream: true as well, both kinds arrive, the events numbered on their own.
        let bothID = try connection.sendRequest("tools/call", [
            "name": "echo", "arguments": [:], "stream": true, "_meta": ["progressToken": "both"],
        ])
        let both = try response(to: bothID, on: connection)
        #expect(both.before.filter { $0["method"] == "event" }.map { $0["params"]?["seq"] } == [1, 2])
        #expect(both.before.filter { $0["method"] == "notifications/progress" }.map { $0["params"]?["progress"] } == [1, 2])

        // A token of another type is refused, naming the field.
        for bad: JSONValue in [true, 1.5, ["a": 1], .null] {
            let error = rpcError { () throws(CallError) in try connection.call("tools/call", ["name": "echo", "_meta": ["progressToken": bad]]) }
            #expect(error?.rpcCode == -32602, "\(bad)")
            #expect(error?.details["field"] == "_meta.progressToken", "\(bad)")
        }
        let notObject = rpcError { () throws(CallError) in try connection.call("tools/call", ["name": "echo", "_meta": "tok"]) }
        #expect(notObject?.details["field"] == "_meta")
        // Methods that answer at once take a token and send no progress.
        let listID = try connection.sendRequest("tools/list", ["_meta": ["progressToken": "list"]])
        #expect(try response(to: listID, on: connection).before.isEmpty)
    }

    @Test func batchProgressCountsFinishedCallsOutOfTheTotal() async throws {
        let daemon = try TestDaemon()
        let connection = try daemon.connect()
        let id = try connection.sendRequest("tools/batch", [
            "calls": [
                ["name": "sleep", "arguments": ["ms": 60]], ["name": "echo", "arguments": ["a": 1]],
                ["name": "sleep", "arguments": ["ms": 20]], ["name": "now"],
            ],
            "_meta": ["progressToken": 77],
        ])
        let (answer, before) = try response(to: id, on: connection)
        #expect(answer["result"]?["results"]?.arrayValue?.count == 4)
        #expect(before.allSatisfy { $0["method"] == "notifications/progress" })
        #expect(before.map { $0["params"]?["progress"] } == [1, 2, 3, 4])
        #expect(before.allSatisfy { $0["params"]?["total"] == 4 && $0["params"]?["progressToken"] == 77 })
        #expect(before.last?["params"]?["message"]?.stringValue?.contains("4 of 4") == true)

        // A `first` race: the calls it stops count too, once each, and the total is still met.
        let raceID = try connection.sendRequest("tools/batch", [
            "calls": [["name": "sleep", "arguments": ["ms": 5000]], ["name": "echo"], ["name": "sleep", "arguments": ["ms": 5000]]],
            "mode": "first", "_meta": ["progressToken": "race"],
        ])
        let race = try response(to: raceID, on: connection)
        let progress = race.before.compactMap { $0["params"]?["progress"]?.intValue }
        #expect(progress == Array(1...Int64(progress.count)))
        #expect(progress.count == 3)
    }

    @Test func orchestrateProgressFollowsTurnsAndToolCalls() async throws {
        let daemon = try TestDaemon(config: OrchestrateMockTests.config)
        let connection = try daemon.connect()
        let id = try connection.sendRequest("orchestrate", [
            "prompt": "Please run echo(city=\"Paris\") and now().", "_meta": ["progressToken": "o"],
        ])
        let (answer, before) = try response(to: id, on: connection)
        #expect(answer["result"]?["stopReason"] == "end_turn")
        let messages = before.compactMap { $0["params"]?["message"]?.stringValue }
        // Turn 1 asks for two calls, both finish, turn 2 answers.
        #expect(before.map { $0["params"]?["progress"] } == [1, 2, 3, 4], "\(messages)")
        #expect(messages.first?.hasPrefix("turn 1") == true, "\(messages)")
        #expect(messages.last?.hasPrefix("turn 2") == true, "\(messages)")
        #expect(before.allSatisfy { $0["params"]?["total"] == nil })
    }

    @Test func listChangedReachesInitializedClientsAfterAReloadThatChangesTools() async throws {
        let daemon = try TestDaemon()
        let mcp = try daemon.connect()
        _ = try mcp.call("initialize", ["protocolVersion": "2025-11-25", "capabilities": [:], "clientInfo": ["name": "t", "version": "1"]])
        try mcp.sendNotification("notifications/initialized")
        let plain = try daemon.connect()
        try expectAlive(plain)
        let admin = try daemon.connect()

        // The same tools again: nobody is told anything.
        _ = try admin.call("daemon/reload")
        try expectNothingBeforePing(mcp)

        // A new tool: the MCP client hears of it, the plain client does not.
        try daemon.writeConfig(TestDaemon.config(extra: "[tools.added]\nkind = \"builtin\"\nbuiltin = \"echo\"\n"))
        #expect(try admin.call("daemon/reload")["tools"] == 4)
        let notice = try mcp.readMessage(timeout: .seconds(10))
        #expect(notice["method"] == "notifications/tools/list_changed")
        #expect(notice["id"] == nil)
        #expect(notice["jsonrpc"] == "2.0")
        try expectNothingBeforePing(mcp)
        try expectNothingBeforePing(plain)
        #expect(try mcp.call("tools/list")["tools"]?.arrayValue?.contains { $0["name"] == "added" } == true)
        #expect(daemon.log.contains("tool list changed mcp.clients_notified=1 tools.generation=1"), "\(daemon.log)")

        // A changed description is a change too; a refused reload is not.
        try daemon.writeConfig(TestDaemon.config(extra: "[tools.added]\nkind = \"builtin\"\nbuiltin = \"echo\"\ndescription = \"Now described.\"\n"))
        _ = try admin.call("daemon/reload")
        #expect(try mcp.readMessage(timeout: .seconds(10))["method"] == "notifications/tools/list_changed")
        try daemon.writeConfig("[server\nbroken")
        #expect(rpcError { () throws(CallError) in try admin.call("daemon/reload") }?.rpcCode == -32602)
        try expectNothingBeforePing(mcp)
    }

    /// The next message on `connection` is the answer to a ping sent now.
    func expectNothingBeforePing(_ connection: ToolformerConnection, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let id = try connection.sendRequest("ping")
        let (_, before) = try response(to: id, on: connection)
        #expect(before.isEmpty, "\(before)", sourceLocation: sourceLocation)
    }
}
