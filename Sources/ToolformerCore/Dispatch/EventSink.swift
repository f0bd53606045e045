public import ToolformerProtocol
import Synchronization

/// Sends a request's `event` notifications, numbering them with `seq` from 1.
///
/// The transport gives it a `write` that is ordered with the request's response (the server writes
/// both through the connection's event loop), so every event arrives before the response.
public final class EventSink: Sendable {
    private let requestID: RequestID
    private let write: (@Sendable ([UInt8]) -> Void)?
    private let sequence = Mutex<Int64>(0)

    /// A sink that writes when `write` is given, and drops events when it is nil.
    public init(requestID: RequestID, write: (@Sendable ([UInt8]) -> Void)?) {
        self.requestID = requestID
        self.write = write
    }

    /// Whether the client asked for events; work may skip building them when not.
    public var isEnabled: Bool { write != nil }

    /// Emits `{"method":"event","params":{"id":…,"seq":…,"type":type,…fields}}`.
    public func emit(_ type: String, _ fields: JSONObject = [:]) {
        guard let write else { return }
        // Numbering and writing under one lock keeps seq order and write order the same.
        sequence.withLock { seq in
            seq += 1
            var params: JSONObject = ["id": requestID.json, "seq": .int(seq), "type": .string(type)]
            for (key, value) in fields.pairs { params[key] = value }
            write(MessageEncoder.notification(method: "event", params: params))
        }
    }

    public static func disabled(_ id: RequestID) -> EventSink { EventSink(requestID: id, write: nil) }
}
