public import ToolformerProtocol

/// What a tool produced: MCP's CallToolResult without the daemon's `_meta`.
public struct ToolOutput: Sendable, Equatable {
    public var text: String
    public var structuredContent: JSONValue?
    public var isError: Bool

    public init(text: String, structuredContent: JSONValue? = nil, isError: Bool = false) {
        self.text = text
        self.structuredContent = structuredContent
        self.isError = isError
    }

    /// A JSON result: kept as `structuredContent`, and as text for clients that only read `content`.
    public static func json(_ value: JSONValue) -> ToolOutput {
        ToolOutput(text: value.description, structuredContent: value)
    }

    public static func failure(_ text: String) -> ToolOutput { ToolOutput(text: text, isError: true) }
}

/// A tool as `tools/list` shows it.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    public var inputSchema: JSONValue

    public init(name: String, description: String, inputSchema: JSONValue) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
    }

    public var listEntry: JSONValue {
        ["name": .string(name), "description": .string(description), "inputSchema": inputSchema]
    }
}

/// Anything the orchestrator can run: a builtin, an exec or HTTP tool, later an MCP server's tool.
///
/// `call` must honour task cancellation promptly (that is how timeouts, `notifications/cancelled`
/// and disconnects stop work) and leave nothing running when it returns.
public protocol Tool: Sendable {
    var definition: ToolDefinition { get }
    func call(_ arguments: JSONObject) async throws -> ToolOutput
}

/// A place tools come from. The configuration is one; MCP servers will be others.
public protocol ToolSource: Sendable {
    func tools() -> [any Tool]
}

extension ToolDefinition {
    /// The definition of a configured tool: its `description` and `input_schema` when the
    /// configuration sets them, else the kind's own. The reader already checked that the schema
    /// is a JSON object.
    public init(config: ToolConfig, description fallback: String, inputSchema defaultSchema: JSONValue) {
        var schema = defaultSchema
        if let text = config.inputSchema, let parsed = try? JSONParser().parse(text), parsed.objectValue != nil {
            schema = parsed
        }
        self.init(name: config.name, description: config.description ?? fallback, inputSchema: schema)
    }
}
