#if canImport(Glibc)
import Glibc
#endif
public import ToolformerCore
public import ToolformerProtocol

/// The protocol core's own methods: `initialize`, `ping`, `daemon/status`.
public enum ProtocolMethods {
    /// `status` adds the parts other components own (orchestrator, cache, providers) to daemon/status.
    public static func register(
        in table: inout MethodTable, state: ServerState, status: @escaping @Sendable () -> JSONObject
    ) {
        table.register("ping", .immediate { _, _ in .object([:]) })
        table.register("initialize", .immediate { params, _ throws(ToolformerError) in try initialize(params) })
        table.register("daemon/status", .immediate { _, _ in daemonStatus(state: state, extra: status()) })
    }

    static func initialize(_ params: JSONObject) throws(ToolformerError) -> JSONValue {
        let requested: String?
        switch params["protocolVersion"] {
        case nil, .null?: requested = nil
        case .string(let version)?: requested = version
        default: throw .invalidParams("protocolVersion must be a string", field: "protocolVersion")
        }
        let supported = ToolformerVersion.mcpProtocolVersions
        let version = requested.flatMap { supported.contains($0) ? $0 : nil } ?? supported[0]
        return [
            "protocolVersion": .string(version),
            "serverInfo": ["name": "toolformerd", "version": .string(ToolformerVersion.current)],
            "capabilities": ["tools": ["listChanged": true]],
        ]
    }

    static func daemonStatus(state: ServerState, extra: JSONObject) -> JSONValue {
        let uptime = ContinuousClock.now - state.started
        var status: JSONObject = [
            "version": .string(ToolformerVersion.current),
            "pid": .int(Int64(getpid())),
            "uptimeMs": .int(uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000),
            "connections": .int(Int64(state.connections)),
            "inflight": .int(Int64(state.inflight)),
            "draining": .bool(state.isDraining),
        ]
        var peers: [JSONValue] = []
        for (id, info) in state.connectionInfos.sorted(by: { $0.key < $1.key }) {
            peers.append(["id": .int(Int64(id)), "peerUid": .int(Int64(info.peer.uid)), "peerPid": .int(Int64(info.peer.pid))])
        }
        status["connectionList"] = .array(peers)
        for (key, value) in extra.pairs { status[key] = value }
        return .object(status)
    }
}
