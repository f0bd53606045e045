public import ToolformerProtocol

extension ToolformerConnection {
    /// Every tool, following `tools/list`'s `nextCursor` from page to page.
    public func listAllTools(timeout: Duration? = .seconds(60)) throws(CallError) -> [JSONValue] {
        var tools: [JSONValue] = []
        var params: JSONObject = [:]
        // A bound on pages, so that a daemon handing out cursors in a circle cannot hold us forever.
        for _ in 0..<10_000 {
            let page = try call("tools/list", params, timeout: timeout)
            tools += page["tools"]?.arrayValue ?? []
            guard let cursor = page["nextCursor"]?.stringValue else { return tools }
            params = ["cursor": .string(cursor)]
        }
        throw .client(.badMessage("tools/list handed out more than 10000 pages"))
    }
}
