import MCP
import ToolformerCore
import ToolformerProtocol

/// One tool of an MCP server, as the daemon offers it: `SERVER__tool`.
struct MCPTool: ToolformerCore.Tool {
    let definition: ToolDefinition
    /// The name the server knows it by.
    let remoteName: String
    let server: MCPServerSupervisor

    func call(_ arguments: JSONObject) async throws -> ToolOutput {
        try Task.checkCancellation()
        let client: Client
        switch server.currentClient() {
        case .success(let current): client = current
        case .failure(let unavailable): throw unavailable
        }
        let request = CallTool.request(.init(name: remoteName, arguments: MCPValueBridge.arguments(arguments)))
        let context: MCP.RequestContext<CallTool.Result>
        do {
            context = try await client.send(request)
        } catch {
            throw ToolFailure.transient("MCP server \(server.name) is unavailable: \(MCPServerSupervisor.describe(error))")
        }
        do {
            let result = try await MCPRequests.value(of: context, on: client)
            return MCPValueBridge.output(result)
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            // The request was sent: the server may have run it, so neither case is retried.
            if case .success(let current) = server.currentClient(), current === client {
                return .failure("MCP server \(server.name) failed \(remoteName): \(MCPServerSupervisor.describe(error))")
            }
            return .failure("MCP server \(server.name) stopped during the call: \(server.snapshot.lastError ?? MCPServerSupervisor.describe(error))")
        }
    }

    /// Registry entries for a server's listed tools, named, described and with its policy.
    static func entries(for tools: [MCP.Tool], server: MCPServerSupervisor) -> [ToolRegistry.Entry] {
        let config = server.config
        let names = MCPToolNames.map(server: config.name, originals: tools.map(\.name))
        var identity: [String]
        switch config.transport {
        case .stdio(let stdio):
            identity = ["stdio"] + stdio.command + [stdio.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1F}"), stdio.workingDirectory ?? ""]
        case .remote(let remote):
            // Not the headers: they hold secrets, and do not change what a tool does.
            identity = ["http", remote.url]
        }
        return zip(tools, names).map { tool, name in
            var schema = MCPValueBridge.json(tool.inputSchema)
            if schema.objectValue == nil { schema = ["type": "object"] }
            var definition = ToolDefinition(
                name: name, description: tool.description ?? tool.title ?? "\(tool.name) from MCP server \(config.name)",
                inputSchema: schema)
            var annotations = JSONObject()
            let hints = tool.annotations
            if let title = hints.title ?? tool.title { annotations["title"] = .string(title) }
            if let value = hints.readOnlyHint { annotations["readOnlyHint"] = .bool(value) }
            if let value = hints.destructiveHint { annotations["destructiveHint"] = .bool(value) }
            if let value = hints.idempotentHint { annotations["idempotentHint"] = .bool(value) }
            if let value = hints.openWorldHint { annotations["openWorldHint"] = .bool(value) }
            if !annotations.isEmpty { definition.annotations = annotations }
            definition.meta = ["toolformer": ["mcpServer": .string(config.name), "originalName": .string(tool.name)]]

            // Only what the server declares harmless to repeat is retried after a timeout or hedged.
            let idempotent = hints.readOnlyHint == true || hints.idempotentHint == true
            var policy = ToolPolicy(
                timeout: .milliseconds(config.timeoutMs), retry: RetryPolicy(config.retry), rateLimit: config.rateLimit,
                maxConcurrency: config.maxConcurrency, idempotent: idempotent, cacheTTL: .seconds(config.cacheTTLSeconds))
            policy.concurrencyGroup = "mcp:" + config.name
            let fingerprint = Fingerprint.hex(
                (identity + [tool.name, JSONWriter.string(schema)]).joined(separator: "\u{1E}"))
            return ToolRegistry.Entry(
                tool: MCPTool(definition: definition, remoteName: tool.name, server: server), policy: policy,
                fingerprint: fingerprint)
        }
    }
}
