import Foundation
import MCP
import ToolformerCore
import ToolformerProtocol

/// Converts between the SDK's `Value` and the daemon's `JSONValue`, and maps results.
enum MCPValueBridge {
    static func json(_ value: Value) -> JSONValue {
        switch value {
        case .null: .null
        case .bool(let bool): .bool(bool)
        case .int(let int): .int(Int64(int))
        case .double(let double): .double(double)
        case .string(let string): .string(string)
        case .data(let mimeType, let data): .string("data:\(mimeType ?? "application/octet-stream");base64,\(data.base64EncodedString())")
        case .array(let array): .array(array.map(json))
        // Sorted: the SDK's dictionaries have no stable order, and schemas end up in fingerprints.
        case .object(let object): .object(JSONObject(object.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }

    static func value(_ json: JSONValue) -> Value {
        switch json {
        case .null: .null
        case .bool(let bool): .bool(bool)
        case .int(let int): .int(Int(int))
        case .double(let double): .double(double)
        case .string(let string): .string(string)
        case .array(let array): .array(array.map(value))
        case .object(let object): .object(Dictionary(object.pairs.map { ($0.key, value($0.value)) }, uniquingKeysWith: { _, last in last }))
        }
    }

    static func arguments(_ object: JSONObject) -> [String: Value] {
        Dictionary(object.pairs.map { ($0.key, value($0.value)) }, uniquingKeysWith: { _, last in last })
    }

    /// MCP's CallToolResult as the daemon's tool output. Text blocks are joined by newlines;
    /// other blocks (images, audio, resources) are described in the text, since the daemon's
    /// results carry text and structured content only. With no text, the structured content is
    /// the text, as MCP asks servers to do.
    static func output(_ result: CallTool.Result) -> ToolOutput {
        var parts: [String] = []
        for block in result.content {
            switch block {
            case .text(let text, _, _): parts.append(text)
            case .image(let data, let mimeType, _, _): parts.append("[image \(mimeType), \(data.utf8.count) bytes of base64]")
            case .audio(let data, let mimeType, _, _): parts.append("[audio \(mimeType), \(data.utf8.count) bytes of base64]")
            case .resource(let resource, _, _): parts.append(describe(resource))
            case .resourceLink(let uri, let name, _, _, _, _): parts.append("[resource link \(name): \(uri)]")
            }
        }
        let structured = result.structuredContent.map(json)
        var text = parts.joined(separator: "\n")
        if text.isEmpty, let structured { text = structured.description }
        return ToolOutput(text: text, structuredContent: structured, isError: result.isError ?? false)
    }

    static func describe(_ resource: Resource.Content) -> String {
        if let text = resource.text { return text }
        return "[resource \(resource.uri)\(resource.mimeType.map { ", \($0)" } ?? "")]"
    }
}
