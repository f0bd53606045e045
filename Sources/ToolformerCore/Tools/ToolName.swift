/// The rule every tool name follows: `^[a-zA-Z0-9_-]{1,64}$`, which the OpenAI and Anthropic APIs
/// require of the tools a model is offered. Configured names are refused when they break it
/// (ConfigCheck); names imported from MCP servers are mapped to fit it (MCPToolNames).
public enum ToolName {
    public static let maxLength = 64

    public static func isValid(_ name: String) -> Bool {
        (1...maxLength).contains(name.utf8.count) && name.utf8.allSatisfy(isAllowed)
    }

    public static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
