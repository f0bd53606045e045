import Testing
import ToolformerProtocol
import ToolformerTestTraits
import ToolformerTesting

#if canImport(Glibc)
import Glibc
#endif

/// A real MCP client, the Python `mcp` package's stdio client, against `toolformerctl mcp`
/// (Tests/MCPClient/bridge_client.py). Without the package the test is skipped with a note,
/// except under CI (`CI` set), where it fails: `.ci/install-deps` installs it.
@Suite(.timeLimit(.minutes(2)), .ownThread)
struct MCPClientTests {
    static let script = String(#filePath.split(separator: "/").dropLast(2).joined(separator: "/"))
        .withLeadingSlash + "/MCPClient/bridge_client.py"

    static let environment: [String: String] = [
        "PATH": getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin",
        "HOME": getenv("HOME").map { String(cString: $0) } ?? "/tmp",
        "LANG": "C.UTF-8",
    ]

    static let pythonHasMCP: Bool = {
        (try? TestDaemon.run(["/usr/bin/env", "python3", "-c", "import mcp.client.stdio"], environment: environment)) == 0
    }()

    static var underCI: Bool { getenv("CI").map { String(cString: $0) }.map { !$0.isEmpty && $0 != "false" } ?? false }

    @Test(.enabled(
        if: pythonHasMCP || underCI,
        "python3 with the mcp package (pip install mcp) is not installed: the real-MCP-client test is skipped"))
    func pythonMCPClientInitializesListsCallsAndHearsListChanged() async throws {
        try #require(Self.pythonHasMCP, "CI needs python3 with the mcp package; .ci/install-deps runs pip install mcp")
        // 3 builtin tools + 120 more: two pages of tools/list.
        let daemon = try TestDaemon(config: MCPServerTests.manyTools(120))
        var template = Array("/tmp/toolformer-pyclient-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDaemonError("mkdtemp failed") }
        let directory = String(cString: made)
        defer { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }
        let output = directory + "/output"
        let pid = try TestDaemon.spawn(
            ["/usr/bin/env", "python3", Self.script, CtlProcess.binary, daemon.socketPath, daemon.configPath, "123"],
            environment: Self.environment, output: output)
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(90)
        while waitpid(pid, &status, WNOHANG) != pid {
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                Issue.record("the MCP client did not finish within 90 s:\n\(try TestDaemon.readFile(output))")
                return
            }
            usleep(10_000)
        }
        let text = try TestDaemon.readFile(output)
        #expect(status == 0, "the MCP client failed:\n\(text)\ndaemon log:\n\(daemon.log)")
        #expect(text.contains("19 passed, 0 failed"), "\(text)")
    }
}

extension String {
    fileprivate var withLeadingSlash: String { hasPrefix("/") ? self : "/" + self }
}
