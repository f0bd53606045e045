import Synchronization
import Testing
import ToolformerCore
import ToolformerProtocol

/// A tool that only has a definition, for listing.
private struct ListedTool: Tool {
    var definition: ToolDefinition
    init(_ name: String, description: String = "d") {
        definition = ToolDefinition(name: name, description: description, inputSchema: ["type": "object"])
    }
    func call(_ arguments: JSONObject) async throws -> ToolOutput { ToolOutput(text: "") }
}

private func entries(_ names: [String], description: String = "d") -> [ToolRegistry.Entry] {
    names.map { ToolRegistry.Entry(tool: ListedTool($0, description: description), policy: ToolPolicy(timeout: .seconds(1))) }
}

/// The pieces of the MCP server side that need no socket: pages, change signal, progress.
struct MCPServingTests {
    @Test func pagesCoverEveryToolOnceWithSmallPages() throws {
        let tools = entries((0..<25).map { "t\(String($0 + 100).dropFirst())" } + ["émoji_ü", "z"])
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try ToolListPage.page(tools, cursor: cursor, size: 4)
            seen += page["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            cursor = page["nextCursor"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 100
        #expect(pages == 7)
        #expect(seen == tools.map(\.tool.definition.name))
        // An exact multiple of the page size has no empty last page.
        let eight = entries((1...8).map { "n\($0)" })
        let first = try ToolListPage.page(eight, cursor: nil, size: 4)
        let second = try ToolListPage.page(eight, cursor: first["nextCursor"]?.stringValue, size: 4)
        #expect(second["tools"]?.arrayValue?.count == 4)
        #expect(second["nextCursor"] == nil)
        #expect(try ToolListPage.page([], cursor: nil)["tools"] == [])
    }

    @Test func badCursorsAreInvalidParams() {
        for cursor in ["", "t1.", "t1.0", "t1.zz", "T1.6162", "t2.6162", "t1.c0af", "t1." + String(repeating: "61", count: 2000)] {
            #expect(throws: ToolformerError.self, "\(cursor)") { try ToolListPage.page(entries(["a"]), cursor: cursor) }
            do {
                _ = try ToolListPage.page(entries(["a"]), cursor: cursor)
            } catch {
                #expect(error.rpcCode == -32602)
                #expect(error.details["field"] == "cursor")
            }
        }
    }

    @Test func theRegistryTellsObserversOnlyWhenTheListingChanges() {
        let registry = ToolRegistry(entries(["a", "b"]))
        let seen = Mutex<[UInt64]>([])
        let token = registry.changes.observe { generation in seen.withLock { $0.append(generation) } }
        #expect(registry.changes.generation == 0)
        registry.replace(with: entries(["b", "a"]))
        #expect(seen.withLock { $0 } == [], "same tools, other order: no change")
        registry.replace(with: entries(["a", "b", "c"]))
        registry.replace(with: entries(["a", "b", "c"], description: "changed"))
        registry.replace(with: entries(["a"]))
        #expect(seen.withLock { $0 } == [1, 2, 3])
        registry.changes.removeObserver(token)
        registry.replace(with: [])
        #expect(seen.withLock { $0 } == [1, 2, 3])
        #expect(registry.changes.generation == 4)
    }

    @Test func progressTokensAreStringsOrIntegers() throws {
        #expect(try ProgressReporter.token(in: [:]) == nil)
        #expect(try ProgressReporter.token(in: ["_meta": [:]]) == nil)
        #expect(try ProgressReporter.token(in: ["_meta": ["progressToken": "a"]]) == "a")
        #expect(try ProgressReporter.token(in: ["_meta": ["progressToken": -3]]) == -3)
        for bad: JSONValue in [["progressToken": 1.5], ["progressToken": false], ["progressToken": .null], "x", 1] {
            #expect(throws: ToolformerError.self) { try ProgressReporter.token(in: ["_meta": bad]) }
        }
        #expect(ProgressReporter(method: "tools/list", params: [:], token: "t") == nil)
        #expect(ProgressReporter(method: "ping", params: [:], token: "t") == nil)
    }

    @Test func aCallsProgressCountsEveryStepAndEndsAtItsTotal() throws {
        var reporter = try #require(ProgressReporter(method: "tools/call", params: [:], token: "t"))
        let steps: [(String, JSONObject)] = [
            ("tool.started", ["callId": "0", "name": "web", "attempt": 1]),
            // As the executor sends them: retries and waits name no tool.
            ("tool.retry", ["callId": "0", "attempt": 2, "delayMs": 120, "reason": "HTTP 503"]),
            ("ratelimit.wait", ["callId": "0", "bucket": "api", "waitMs": 40]),
            ("tool.started", ["callId": "0", "name": "web", "attempt": 2]),
            ("tool.unknown", [:]),
            ("tool.finished", ["callId": "0", "name": "web", "isError": false, "cached": false, "durationMs": 300]),
        ]
        let sent = steps.compactMap { reporter.notification(for: $0.0, $0.1) }
        #expect(sent.map { $0["progress"] } == [1, 2, 3, 4, 5])
        #expect(sent.map { $0["total"] } == [nil, nil, nil, nil, 5])
        #expect(sent.allSatisfy { $0["progressToken"] == "t" })
        #expect(sent[1]["message"] == "web: retrying in 120 ms (HTTP 503)")
        #expect(sent[3]["message"] == "web: attempt 2")
        #expect(sent[4]["message"] == "web: finished in 300 ms")
    }

    @Test func aBatchCountsEachCallOnceOutOfItsTotal() throws {
        var reporter = try #require(ProgressReporter(
            method: "tools/batch", params: ["calls": [[:], [:], [:]]], token: 5))
        let events: [(String, JSONObject)] = [
            ("tool.started", ["callId": "0", "name": "a"]),
            ("tool.finished", ["callId": "1", "name": "b", "isError": false]),
            ("tool.finished", ["callId": "0", "name": "a", "isError": true]),
            ("tool.cancelled", ["callId": "0", "name": "a"]),
            ("tool.cancelled", ["callId": "2", "name": "c"]),
        ]
        let sent = events.compactMap { reporter.notification(for: $0.0, $0.1) }
        #expect(sent.map { $0["progress"] } == [1, 2, 3])
        #expect(sent.allSatisfy { $0["total"] == 3 && $0["progressToken"] == 5 })
        #expect(sent[1]["message"]?.stringValue?.hasPrefix("a: failed") == true)
        #expect(sent[2]["message"] == "c: cancelled (3 of 3)")
    }
}
