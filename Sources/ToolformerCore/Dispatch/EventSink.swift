public import ToolformerProtocol
import Synchronization

/// Sends a request's `event` notifications, numbering them with `seq` from 1, and MCP's
/// `notifications/progress` for a request that carried a `progressToken`.
///
/// The transport gives it a `write` that is ordered with the request's response (the server writes
/// both through the connection's event loop), so every event arrives before the response. A sink
/// may instead forward each event to others: a run shared by several requests (single-flight)
/// reaches each of them, each with its own `seq`.
public final class EventSink: Sendable {
    private enum Target: Sendable {
        case none
        case write(RequestID, @Sendable ([UInt8]) -> Void, stream: Bool)
        case forward(@Sendable (String, JSONObject) -> Void)
    }

    /// What one request's sink has sent: the `seq` of its events, the state of its progress.
    private struct Sequence {
        var seq: Int64 = 0
        var progress: ProgressReporter?
    }

    private let target: Target
    private let sequence: Mutex<Sequence>

    /// A sink that writes when `write` is given, and drops events when it is nil.
    public init(requestID: RequestID, write: (@Sendable ([UInt8]) -> Void)?) {
        target = write.map { .write(requestID, $0, stream: true) } ?? .none
        sequence = Mutex(Sequence())
    }

    /// A sink that writes `event` notifications when `stream` is true, and MCP's
    /// `notifications/progress` when `progress` is given; it drops events when neither.
    public init(requestID: RequestID, stream: Bool, progress: ProgressReporter?, write: @escaping @Sendable ([UInt8]) -> Void) {
        target = stream || progress != nil ? .write(requestID, write, stream: stream) : .none
        sequence = Mutex(Sequence(progress: progress))
    }

    /// A sink that hands each event to `forward`.
    public init(forward: @escaping @Sendable (String, JSONObject) -> Void) {
        target = .forward(forward)
        sequence = Mutex(Sequence())
    }

    /// Whether anyone listens; work may skip building events when not.
    public var isEnabled: Bool {
        if case .none = target { false } else { true }
    }

    /// Emits `{"method":"event","params":{"id":…,"seq":…,"type":type,…fields}}`.
    public func emit(_ type: String, _ fields: JSONObject = [:]) {
        switch target {
        case .none:
            return
        case .forward(let forward):
            forward(type, fields)
        case .write(let requestID, let write, let stream):
            // Numbering and writing under one lock keeps seq order and write order the same.
            sequence.withLock { state in
                if stream {
                    state.seq += 1
                    var params: JSONObject = ["id": requestID.json, "seq": .int(state.seq), "type": .string(type)]
                    for (key, value) in fields.pairs { params[key] = value }
                    write(MessageEncoder.notification(method: "event", params: params))
                }
                if let progress = state.progress?.notification(for: type, fields) {
                    write(MessageEncoder.notification(method: "notifications/progress", params: progress))
                }
            }
        }
    }

    public static func disabled(_ id: RequestID) -> EventSink { EventSink(requestID: id, write: nil) }
}
