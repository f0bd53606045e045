import Testing
@testable import ToolformerMCP
import ToolformerCore
import ToolformerProtocol

/// Imported tool names: kept when they fit `^[a-zA-Z0-9_-]{1,64}$` once prefixed, else mapped.
@Suite struct MCPToolNamesTests {
    @Test func namesThatFitAreKeptWithThePrefix() {
        #expect(MCPToolNames.map(server: "fs", originals: ["read", "write-file", "X_1"]) == ["fs__read", "fs__write-file", "fs__X_1"])
    }

    @Test func badCharactersAndLengthAreMappedToValidDistinctStableNames() {
        let long = String(repeating: "x", count: 80)
        let originals = ["a.b", "a b", "a_b", "", "ü", long, long + "y"]
        let mapped = MCPToolNames.map(server: "srv", originals: originals)
        #expect(mapped.count == originals.count)
        #expect(Set(mapped).count == mapped.count)
        for name in mapped { #expect(MCPToolNames.isValid(name), "\(name)") }
        // The valid one keeps its name; the look-alikes get a hash suffix instead of taking it.
        #expect(mapped[2] == "srv__a_b")
        #expect(mapped[0].hasPrefix("srv__a_b_") && mapped[0].count == "srv__a_b_".count + 8)
        #expect(mapped[0] != mapped[1])
        #expect(mapped[5].count == 64 && mapped[6].count == 64)
        // The same input maps the same way in every process.
        #expect(MCPToolNames.map(server: "srv", originals: originals) == mapped)
    }

    @Test func aLongServerNameStillYieldsValidNames() {
        let server = String(repeating: "s", count: 64)
        let mapped = MCPToolNames.map(server: server, originals: ["t", "u"])
        for name in mapped { #expect(MCPToolNames.isValid(name), "\(name)") }
        #expect(mapped[0] != mapped[1])
    }
}

/// The registry's partitions: each source replaced on its own, the configuration winning a name.
@Suite struct ToolRegistryPartitionTests {
    struct Named: ToolformerCore.Tool {
        var definition: ToolDefinition
        var tag: String
        func call(_ arguments: JSONObject) async throws -> ToolOutput { ToolOutput(text: tag) }
    }

    func entry(_ name: String, _ tag: String) -> ToolRegistry.Entry {
        ToolRegistry.Entry(tool: Named(definition: ToolDefinition(name: name, description: "", inputSchema: ["type": "object"]), tag: tag), policy: ToolPolicy(timeout: .seconds(1)))
    }

    func tag(_ registry: ToolRegistry, _ name: String) -> String? { (registry.entry(named: name)?.tool as? Named)?.tag }

    @Test func sourcesAreReplacedIndependently() {
        let registry = ToolRegistry([entry("echo", "config")])
        registry.replace(source: "mcp:a", with: [entry("a__x", "a1"), entry("a__y", "a1")])
        registry.replace(source: "mcp:b", with: [entry("b__x", "b1")])
        #expect(registry.all().map(\.tool.definition.name) == ["a__x", "a__y", "b__x", "echo"])

        registry.replace(source: "mcp:a", with: [entry("a__x", "a2")])
        #expect(registry.all().map(\.tool.definition.name) == ["a__x", "b__x", "echo"])
        #expect(tag(registry, "a__x") == "a2")

        // A reload of the configuration leaves the servers' tools alone.
        registry.replace(with: [entry("now", "config")])
        #expect(registry.all().map(\.tool.definition.name) == ["a__x", "b__x", "now"])

        registry.replace(source: "mcp:b", with: [])
        #expect(registry.entries(source: "mcp:b").isEmpty)
        #expect(registry.all().map(\.tool.definition.name) == ["a__x", "now"])
        #expect(registry.all(replacing: "mcp:c", with: [entry("c__z", "c")]).count == 3)
        #expect(registry.count == 2)
    }

    @Test func theConfigurationWinsANameTwoSourcesOffer() {
        let registry = ToolRegistry([entry("x__y", "config")])
        registry.replace(source: "mcp:x", with: [entry("x__y", "server")])
        #expect(tag(registry, "x__y") == "config")
        registry.replace(with: [])
        #expect(tag(registry, "x__y") == "server")
    }
}
