import Synchronization

/// The tools the daemon serves, by name. A reload swaps the whole table at once; a call holds the
/// tool it looked up, so calls in flight finish on the definition they started with.
///
/// Tools come from sources, each a partition replaced on its own: the configuration (which
/// `replace(with:)` sets) and each MCP server (`replace(source:with:)`, when the server lists its
/// tools again). Where two sources offer one name, the configuration wins, then sources in name
/// order.
public final class ToolRegistry: Sendable {
    /// The partition that `replace(with:)` sets: the configured tools.
    public static let configurationSource = ""

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
    private let partitions: Mutex<[String: [Entry]]>
    /// Tells observers (the server's MCP clients) when the listed tools change, whichever source
    /// changed them.
    public let changes = ToolListChanges()

    public init(_ tools: [Entry] = []) {
        table = Mutex([:])
        orderedNames = Mutex([])
        partitions = Mutex([:])
        replace(with: tools)
    }

    /// Replaces the configured tools; other sources' tools stay.
    public func replace(with tools: [Entry]) { replace(source: Self.configurationSource, with: tools) }

    /// Replaces one source's tools; an empty list removes the source.
    public func replace(source: String, with tools: [Entry]) {
        // Three locks, always taken in this order; readers take only one.
        partitions.withLock { partitions in
            partitions[source] = tools.isEmpty ? nil : tools
            var byName: [String: Entry] = [:]
            // Later sources never displace a name an earlier one holds.
            for source in partitions.keys.sorted() {
                for entry in partitions[source] ?? [] where byName[entry.tool.definition.name] == nil {
                    byName[entry.tool.definition.name] = entry
                }
            }
            let names = byName.keys.sorted()
            orderedNames.withLock { ordered in
                table.withLock { $0 = byName }
                ordered = names
            }
            // Still under the partitions lock, so that two sources changing at once are announced
            // in the order they were applied. Observers only queue writes; none replaces tools.
            changes.update(names.compactMap { byName[$0]?.tool.definition })
        }
    }

    /// What `all()` will hold once `source` has `tools`: for configuring limits before the swap.
    public func all(replacing source: String, with tools: [Entry]) -> [Entry] {
        partitions.withLock { partitions in
            var next = partitions
            next[source] = tools
            return next.keys.sorted().flatMap { next[$0] ?? [] }
        }
    }

    /// One source's tools, as it last set them.
    public func entries(source: String) -> [Entry] { partitions.withLock { $0[source] ?? [] } }

    public func entry(named name: String) -> Entry? { table.withLock { $0[name] } }

    /// All tools in name order.
    public func all() -> [Entry] {
        orderedNames.withLock { names in
            table.withLock { table in names.compactMap { table[$0] } }
        }
    }

    public var count: Int { table.withLock { $0.count } }
}
