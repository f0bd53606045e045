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
            tools.append(ToolRegistry.Entry(tool: built, policy: ToolPolicy(tool)))
        }
        return tools
    }
}
