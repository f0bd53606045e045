import Logging
import MCP
import ToolformerCore
import ToolformerHTTP

extension MCPServerSupervisor {
    /// One session with a server reached over Streamable HTTP: initialize, list, ping until a
    /// ping fails or the server forgets the session; returns why it ended.
    func runRemote(_ remote: MCPServerConfig.Remote, http: SharedHTTPClient) async -> String {
        var sdkLogger = logger
        sdkLogger.logLevel = .critical
        // The POST of a call may hold its answer until the tool is done.
        let requestTimeout = max(Duration.milliseconds(config.timeoutMs), timing.handshakeTimeout) + .seconds(5)
        let transport = MCPHTTPTransport(
            url: remote.url, headers: remote.headers, http: http, requestTimeout: requestTimeout, logger: sdkLogger)
        let client = Client(name: "toolformerd", version: "1")
        logger.info("MCP server session starting")
        return await runSession(client: client, transport: transport) {
            for await failure in transport.failures { return failure }
            return nil
        }
    }
}
