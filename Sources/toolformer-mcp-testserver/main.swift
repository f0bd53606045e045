// A small, real MCP server over stdio, written with the Swift SDK's `Server`, that the daemon's
// tests import tools from. It leaves evidence in the directory named by MCP_TEST_STATE_DIR:
//   pids       one line per start: this process's pid
//   runs       one line per call of `count` (so tests can tell cached answers from real runs)
//   cancelled  one line per notifications/cancelled received: the request id and reason
// MCP_TEST_START_DELAY_MS makes it wait that long before answering anything.
// Tools: echo, add, slow(ms), count, fail, crash (exits 3 at once), freeze (SIGSTOPs itself, so
// pings go unanswered), add_tool (adds `extra` and sends notifications/tools/list_changed), and
// two whose names the daemon must map: "dotted.name v2" and a 70-character one.
import Foundation
import MCP

#if canImport(Glibc)
import Glibc
#endif

let stateDirectory = ProcessInfo.processInfo.environment["MCP_TEST_STATE_DIR"] ?? ""
let longName = "a_tool_whose_name_is_far_too_long_for_the_sixty_four_character_rule_xyz"

func append(_ file: String, _ line: String) {
    guard !stateDirectory.isEmpty else { return }
    let path = stateDirectory + "/" + file
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    guard fd >= 0 else { return }
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func lineCount(_ file: String) -> Int {
    guard let text = try? String(contentsOfFile: stateDirectory + "/" + file, encoding: .utf8) else { return 0 }
    return text.split(separator: "\n").count
}

func say(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count) }
}

final class ExtraTool: @unchecked Sendable {
    private let lock = NSLock()
    private var added = false
    var isAdded: Bool { lock.withLock { added } }
    func add() { lock.withLock { added = true } }
}

let extra = ExtraTool()
let objectSchema: Value = ["type": "object"]

func tools() -> [Tool] {
    var list: [Tool] = [
        Tool(
            name: "echo", description: "Returns its text.",
            inputSchema: ["type": "object", "properties": ["text": ["type": "string"]], "required": ["text"]]),
        Tool(
            name: "add", description: "Adds two integers.",
            inputSchema: [
                "type": "object", "properties": ["a": ["type": "integer"], "b": ["type": "integer"]],
                "required": ["a", "b"],
            ],
            annotations: .init(readOnlyHint: true, idempotentHint: true)),
        Tool(name: "slow", description: "Sleeps ms milliseconds.", inputSchema: objectSchema),
        Tool(name: "count", description: "Counts its runs.", inputSchema: objectSchema),
        Tool(name: "fail", description: "Always fails.", inputSchema: objectSchema),
        Tool(name: "crash", description: "Exits at once.", inputSchema: objectSchema),
        Tool(name: "freeze", description: "Stops answering.", inputSchema: objectSchema),
        Tool(name: "add_tool", description: "Adds the tool extra.", inputSchema: objectSchema),
        Tool(name: "dotted.name v2", description: "A name with bad characters.", inputSchema: objectSchema),
        Tool(name: longName, description: "A name too long.", inputSchema: objectSchema),
    ]
    if extra.isAdded { list.append(Tool(name: "extra", description: "Added later.", inputSchema: objectSchema)) }
    return list
}

func text(_ string: String) -> Tool.Content { .text(text: string, annotations: nil, _meta: nil) }

append("pids", "\(getpid())")
say("testserver started pid \(getpid())")
// MCP_TEST_START_DELAY_MS: a server slow to come up, for the daemon's start-up wait.
if let delay = ProcessInfo.processInfo.environment["MCP_TEST_START_DELAY_MS"].flatMap(Int.init) {
    try await Task.sleep(for: .milliseconds(delay))
}

let server = Server(
    name: "toolformer-mcp-testserver", version: "1.0.0",
    capabilities: .init(tools: .init(listChanged: true)))

// Pagination: three tools a page, so a client must follow nextCursor.
await server.withMethodHandler(ListTools.self) { params in
    let all = tools()
    let start = params.cursor.flatMap(Int.init) ?? 0
    let end = min(start + 3, all.count)
    return .init(tools: Array(all[start..<end]), nextCursor: end < all.count ? String(end) : nil)
}

await server.withMethodHandler(CallTool.self) { params in
    let arguments = params.arguments ?? [:]
    switch params.name {
    case "echo":
        let value = arguments["text"]?.stringValue ?? ""
        return .init(content: [text(value)], structuredContent: ["text": .string(value), "pid": .int(Int(getpid()))])
    case "add":
        let sum = (arguments["a"]?.intValue ?? 0) + (arguments["b"]?.intValue ?? 0)
        return .init(content: [text(String(sum))], structuredContent: ["sum": .int(sum)])
    case "slow":
        let ms = arguments["ms"]?.intValue ?? 1000
        do {
            try await Task.sleep(for: .milliseconds(ms))
        } catch {
            append("cancelled", "slow task cancelled")
            throw error
        }
        return .init(content: [text("slept \(ms) ms")])
    case "count":
        // An optional pause first, so tests can keep two different tools busy at once.
        if let ms = arguments["ms"]?.intValue { try await Task.sleep(for: .milliseconds(ms)) }
        append("runs", "run")
        return .init(content: [text("run \(lineCount("runs"))")])
    case "fail":
        return .init(content: [text("this tool always fails")], isError: true)
    case "crash":
        say("crashing on request")
        exit(3)
    case "freeze":
        say("freezing on request")
        kill(getpid(), SIGSTOP)
        // Should it ever be continued, still never answer.
        try await Task.sleep(for: .seconds(3600))
        return .init(content: [text("thawed")])
    case "add_tool":
        extra.add()
        try await server.notify(ToolListChangedNotification.message())
        return .init(content: [text("added")])
    case "extra", "dotted.name v2", longName:
        return .init(content: [text("called \(params.name)")])
    default:
        return .init(content: [text("unknown tool \(params.name)")], isError: true)
    }
}

await server.onNotification(CancelledNotification.self) { message in
    let id = message.params.requestId.map { "\($0)" } ?? "none"
    append("cancelled", "notification \(id) \(message.params.reason ?? "")")
}

try await server.start(transport: StdioTransport())
await server.waitUntilCompleted()
say("testserver stdin closed; exiting")
