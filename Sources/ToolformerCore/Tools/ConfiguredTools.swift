public import Logging

/// Builds the configured tools this build can run.
public enum ConfiguredTools {
    /// Tools for `[tools.*]`. Kinds whose runner lives in another target (exec, http) come from the
    /// `extraKinds` factory the daemon passes in; a kind nobody can build is logged and skipped.
    public static func make(
        from config: ToolformerConfig, logger: Logger,
        extraKinds: @Sendable (ToolConfig) -> (any Tool)? = { _ in nil }
    ) -> [ToolRegistry.Entry] {
        var tools: [ToolRegistry.Entry] = []
        for (name, tool) in config.tools.sorted(by: { $0.key < $1.key }) {
            let built: (any Tool)?
            switch tool.kind {
            case .builtin(.echo): built = EchoTool(name: name, description: tool.description)
            case .builtin(.sleep): built = SleepTool(name: name, description: tool.description)
            case .builtin(.now): built = NowTool(name: name, description: tool.description)
            default: built = extraKinds(tool)
            }
            guard let built else {
                logger.warning("tool kind not available in this build; skipped", metadata: ["tool.name": "\(name)"])
                continue
            }
            tools.append(ToolRegistry.Entry(tool: built, policy: ToolPolicy(tool), fingerprint: tool.fingerprint))
        }
        return tools
    }
}

extension ToolConfig {
    /// A fingerprint of what the tool does: its kind and everything that shapes its result.
    /// Built field by field with sorted tables (Swift's dictionary order changes from one process
    /// to the next), so it is the same across restarts, which the disk tier relies on.
    public var fingerprint: String {
        var parts: [String] = []
        func table(_ values: [String: String]) -> String {
            values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1F}")
        }
        switch kind {
        case .builtin(let builtin):
            parts = ["builtin", builtin.rawValue]
        case .exec(let exec):
            parts = ["exec"] + exec.argv + [table(exec.environment), exec.workingDirectory ?? "", exec.retryExitCodes.map(String.init).joined(separator: ",")]
        case .http(let http):
            parts = ["http", http.method, http.url, table(http.headers)]
        }
        parts.append(inputSchema ?? "")
        return Fingerprint.hex(parts.joined(separator: "\u{1E}"))
    }
}
