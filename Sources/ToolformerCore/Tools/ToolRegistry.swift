import Synchronization

/// The tools the daemon serves, by name. A reload swaps the whole table at once; a call holds the
/// tool it looked up, so calls in flight finish on the definition they started with.
public final class ToolRegistry: Sendable {
    /// A tool with the daemon's policy for it.
    public struct Entry: Sendable {
        public var tool: any Tool
        public var policy: ToolPolicy
        /// Changes whenever what the tool does changes, so cached results of an older
        /// definition are never served for a newer one.
        public var fingerprint: String

        public init(tool: any Tool, policy: ToolPolicy, fingerprint: String = "") {
            self.tool = tool
            self.policy = policy
            self.fingerprint = fingerprint
        }
    }

    private let table: Mutex<[String: Entry]>
    private let orderedNames: Mutex<[String]>
    /// Tells observers (the server's MCP clients) when the listed tools change.
    public let changes = ToolListChanges()

    public init(_ tools: [Entry] = []) {
        table = Mutex([:])
        orderedNames = Mutex([])
        replace(with: tools)
    }

    public func replace(with tools: [Entry]) {
        var byName: [String: Entry] = [:]
        for entry in tools { byName[entry.tool.definition.name] = entry }
        let names = byName.keys.sorted()
        // Two locks, always taken in this order; readers take only one.
        orderedNames.withLock { ordered in
            table.withLock { $0 = byName }
            ordered = names
        }
        changes.update(names.compactMap { byName[$0]?.tool.definition })
    }

    public func entry(named name: String) -> Entry? { table.withLock { $0[name] } }

    /// All tools in name order.
    public func all() -> [Entry] {
        orderedNames.withLock { names in
            table.withLock { table in names.compactMap { table[$0] } }
        }
    }

    public var count: Int { table.withLock { $0.count } }
}
