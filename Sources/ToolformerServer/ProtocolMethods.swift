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
        table.register("daemon/requests", .immediate { _, context in requests(state: state, caller: context.peer) })
        table.register("daemon/cancel", .immediate { params, context throws(ToolformerError) in
            try cancel(params, state: state, caller: context.peer)
        })
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

    /// Every request in flight on every connection; a caller who is not an admin sees only its
    /// own uid's.
    static func requests(state: ServerState, caller: PeerCredentials) -> JSONValue {
        let admin = state.limits.access.isAdmin(caller)
        let visible = state.trackedRequests.filter { admin || $0.peer.uid == caller.uid }
        return ["requests": .array(visible.map { record in
            var entry: JSONObject = [
                "ref": .int(Int64(record.ref)), "method": .string(record.method),
                "peerUid": .int(Int64(record.peer.uid)), "peerPid": .int(Int64(record.peer.pid)),
                "startedMs": .int(record.startedUnixMs),
            ]
            if let tool = record.tool { entry["tool"] = .string(tool) }
            return .object(entry)
        })]
    }

    /// Cancels a request by its daemon-wide `ref` (a JSON-RPC id means something only on its own
    /// connection): its client gets -32800. Only its own uid or an admin may.
    static func cancel(_ params: JSONObject, state: ServerState, caller: PeerCredentials) throws(ToolformerError) -> JSONValue {
        guard case .int(let ref)? = params["ref"], ref > 0 else { throw .invalidParams("ref must be a positive integer", field: "ref") }
        guard let record = state.trackedRequest(UInt64(ref)) else {
            throw .invalidParams("no request in flight has ref \(ref)", field: "ref")
        }
        guard record.peer.uid == caller.uid || state.limits.access.isAdmin(caller) else {
            throw .forbidden("request \(ref) belongs to another uid; only it or an admin may cancel it")
        }
        record.cancel()
        return ["cancelled": true, "ref": .int(ref)]
    }

    /// The whole `daemon/status` object (the metrics exporter reads it too).
    public static func daemonStatus(state: ServerState, extra: JSONObject) -> JSONValue {
        let uptime = ContinuousClock.now - state.started
        var status: JSONObject = [
            "version": .string(ToolformerVersion.current),
            "pid": .int(Int64(getpid())),
            "uptimeMs": .int(uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000),
            "connections": .int(Int64(state.connections)),
            "inflight": .int(Int64(state.inflight)),
            "draining": .bool(state.isDraining),
            "slowReadersDropped": .int(Int64(state.slowReadersDropped)),
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
