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
    /// MCP's tool `annotations` (`title`, `readOnlyHint`, ...), listed when set.
    public var annotations: JSONObject? = nil
    /// MCP's `_meta`, listed when set: where an imported tool came from and its original name.
    public var meta: JSONObject? = nil

    public init(name: String, description: String, inputSchema: JSONValue) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
    }

    public var listEntry: JSONValue {
        var entry: JSONObject = ["name": .string(name), "description": .string(description), "inputSchema": inputSchema]
        if let annotations { entry["annotations"] = .object(annotations) }
        if let meta { entry["_meta"] = .object(meta) }
        return .object(entry)
    }
}

/// Anything the orchestrator can run: a builtin, an exec or HTTP tool, an MCP server's tool.
///
/// `call` must honour task cancellation promptly (that is how timeouts, `notifications/cancelled`
/// and disconnects stop work) and leave nothing running when it returns.
public protocol Tool: Sendable {
    var definition: ToolDefinition { get }
    func call(_ arguments: JSONObject) async throws -> ToolOutput
}

/// A place tools come from. The configuration is one; each MCP server is another, whose tools
/// change while the daemon runs (it restarts, or says its list changed): such a source replaces
/// its partition of the ``ToolRegistry`` (`replace(source:with:)`) whenever they do.
public protocol ToolSource: Sendable {
    /// The registry partition this source fills; "" is the configuration's.
    var sourceName: String { get }
    func tools() -> [any Tool]
}

extension ToolSource {
    public var sourceName: String { ToolRegistry.configurationSource }
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
