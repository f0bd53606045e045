/// The project's version, shown by `--version`, `initialize` and `daemon/status`.
public enum ToolformerVersion {
    public static let current = "0.1.0"
    /// MCP protocol versions `initialize` accepts, newest first.
    public static let mcpProtocolVersions = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
}
