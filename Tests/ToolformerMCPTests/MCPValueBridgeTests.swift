import MCP
import Testing
import ToolformerCore
import ToolformerProtocol
@testable import ToolformerMCP

/// MCP values and results as the daemon's.
@Suite struct MCPValueBridgeTests {
    @Test func valuesRoundTripWithIntegersExactAndKeysSorted() {
        let json: JSONValue = ["b": 9_007_199_254_740_993, "a": [1.5, "x", true, nil], "c": ["d": [:]]]
        let back = MCPValueBridge.json(MCPValueBridge.value(json))
        #expect(back == json)
        #expect(back.objectValue?.keys == ["a", "b", "c"])
    }

    @Test func resultsKeepTextStructuredContentAndIsError() {
        let result = CallTool.Result(
            content: [.text(text: "one", annotations: nil, _meta: nil), .image(data: "AAAA", mimeType: "image/png", annotations: nil, _meta: nil), .text(text: "two", annotations: nil, _meta: nil)],
            structuredContent: Value?.some(.object(["n": .int(1)])), isError: true)
        let output = MCPValueBridge.output(result)
        #expect(output.text == "one\n[image image/png, 4 bytes of base64]\ntwo")
        #expect(output.structuredContent == ["n": 1])
        #expect(output.isError)
    }

    @Test func structuredContentAloneBecomesTheText() {
        let output = MCPValueBridge.output(CallTool.Result(content: [], structuredContent: Value?.some(.object(["sum": .int(3)]))))
        #expect(output.text == #"{"sum":3}"#)
        #expect(!output.isError)
    }
}
