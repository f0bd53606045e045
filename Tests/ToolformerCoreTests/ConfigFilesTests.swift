import Foundation
import Testing
import ToolformerCore

@Suite("Configuration: the main file and tools.d")
struct ConfigFilesTests {
    @Test("tools.d files add entries, resolved against the main file's globals")
    func dropInsAdd() throws {
        let folder = try ConfigFolder(
            main: "[retry]\nmax_attempts = 5\n[orchestrator]\ndefault_tool_timeout_ms = 1234\n",
            dropIns: [
                "10-limits.toml": "[rate_limits.weather]\nrequests_per_second = 2\n",
                "20-tools.toml": """
                    [tools.weather]
                    kind = "http"
                    url = "https://wttr.in/{city}"
                    rate_limit = "weather"
                    retry = { initial_backoff_ms = 100 }
                    """,
                "README": "not toml at all [[[",
                ".hidden.toml": "not toml at all [[[",
                "30-disabled.toml.bak": "not toml at all [[[",
            ]
        )
        defer { folder.remove() }
        let config = try ToolformerConfig.load(path: folder.mainFile)
        let weather = try #require(config.tools["weather"])
        #expect(weather.rateLimit == "weather")
        #expect(weather.timeoutMs == 1234)
        #expect(weather.retry.maxAttempts == 5)
        #expect(weather.retry.initialBackoffMs == 100)
        #expect(config.rateLimits["weather"]?.rate == .perSecond(2))
        #expect(ToolformerConfig.dropInDirectory(forConfigAt: folder.mainFile) == folder.dropInFolder)
    }

    @Test("a name declared in the main file and in tools.d is refused, naming both files")
    func duplicateAcrossFiles() throws {
        let folder = try ConfigFolder(
            main: "[tools.echo]\nkind = \"builtin\"\n",
            dropIns: ["50-more.toml": "[tools.echo]\nkind = \"builtin\"\ndescription = \"again\"\n"]
        )
        defer { folder.remove() }
        let error = try #require(loadError(folder.mainFile))
        #expect(error.code == .duplicateName)
        #expect(error.key == "tools.echo")
        #expect(error.file == folder.dropInFolder + "/50-more.toml")
        #expect(error.reason.contains(folder.mainFile))
        #expect(error.description.contains(folder.dropInFolder + "/50-more.toml"))
    }

    @Test("tools.d files are read in byte order of name")
    func nameOrder() throws {
        // "10-" sorts before "9-" byte by byte: the later file is the one blamed.
        let folder = try ConfigFolder(
            main: "",
            dropIns: [
                "9-b.toml": "[providers.dup]\nkind = \"mock\"\n",
                "10-a.toml": "[providers.dup]\nkind = \"mock\"\n",
                "B.toml": "[rate_limits.x]\nrequests_per_second = 1\n",
                "a.toml": "[rate_limits.x]\nrequests_per_second = 1\n",
            ]
        )
        defer { folder.remove() }
        let error = try #require(loadError(folder.mainFile))
        #expect(error.key == "providers.dup")
        #expect(error.file == folder.dropInFolder + "/9-b.toml")
        let first = try #require(error.reason.range(of: "10-a.toml"))
        let second = try #require(error.reason.range(of: "9-b.toml"))
        #expect(first.lowerBound < second.lowerBound)

        try FileManager.default.removeItem(atPath: folder.dropInFolder + "/9-b.toml")
        let upper = try #require(loadError(folder.mainFile))
        #expect(upper.key == "rate_limits.x")
        #expect(upper.file == folder.dropInFolder + "/a.toml")
    }

    @Test("tools.d files may not hold global sections")
    func dropInsAddOnly() throws {
        let folder = try ConfigFolder(main: "", dropIns: ["x.toml": "[server]\nmax_connections = 5\n"])
        defer { folder.remove() }
        let error = try #require(loadError(folder.mainFile))
        #expect(error.code == .notAllowedHere)
        #expect(error.key == "server")
        #expect(error.file == folder.dropInFolder + "/x.toml")
    }

    @Test("a reference that fails in a tools.d file names that file")
    func referenceInDropIn() throws {
        let folder = try ConfigFolder(
            main: "[tools.echo]\nkind = \"builtin\"\n",
            dropIns: ["t.toml": "[tools.now]\nkind = \"builtin\"\nrate_limit = \"missing\"\n"]
        )
        defer { folder.remove() }
        let error = try #require(loadError(folder.mainFile))
        #expect(error.key == "tools.now.rate_limit")
        #expect(error.file == folder.dropInFolder + "/t.toml")
    }

    @Test("a syntax error in tools.d names that file and the line")
    func syntaxInDropIn() throws {
        let folder = try ConfigFolder(main: "", dropIns: ["t.toml": "[tools.echo]\nkind = \"builtin\"\nkind =\n"])
        defer { folder.remove() }
        let error = try #require(loadError(folder.mainFile))
        #expect(error.code == .syntax)
        #expect(error.file == folder.dropInFolder + "/t.toml")
        #expect(error.reason.contains("line 3"))
    }

    @Test("a missing main file is an error; a missing tools.d is not")
    func missingFiles() throws {
        let error = try #require(loadError("/nonexistent/toolformerd.toml"))
        #expect(error.code == .unreadable)
        #expect(error.description == "/nonexistent/toolformerd.toml: cannot read: no such file or folder")

        let folder = try ConfigFolder(main: "[log]\nlevel = \"debug\"\n")
        defer { folder.remove() }
        #expect(try ToolformerConfig.load(path: folder.mainFile).log.level == .debug)
    }

    @Test("a file that is not UTF-8 is refused")
    func notUTF8() throws {
        let folder = try ConfigFolder(main: "")
        defer { folder.remove() }
        try Data([0x5B, 0x6C, 0x6F, 0x67, 0x5D, 0x0A, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: folder.mainFile))
        let error = try #require(loadError(folder.mainFile))
        #expect(error.code == .unreadable)
    }

    @Test("the example in docs/configuration.md loads as documented")
    func documentedExample() throws {
        let docs = try String(contentsOfFile: repositoryPath("docs/configuration.md"), encoding: .utf8)
        let example = try #require(docs.components(separatedBy: "\n## Example\n").last)
        let blocks = example.components(separatedBy: "```toml\n").dropFirst().compactMap {
            $0.components(separatedBy: "```").first
        }
        try #require(blocks.count >= 2)
        let folder = try ConfigFolder(main: blocks[0], dropIns: ["50-weather.toml": blocks[1]])
        defer { folder.remove() }
        let config = try ToolformerConfig.load(path: folder.mainFile)
        #expect(config.orchestrator.defaultProvider == "openai")
        #expect(config.providers["openai"]?.apiKey == .systemdCredential("openai"))
        #expect(config.tools["weather"]?.rateLimit == "weather")
        #expect(config.tools["disk_usage"]?.cacheTTLSeconds == 60)
    }
}
