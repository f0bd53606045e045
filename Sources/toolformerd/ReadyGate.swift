import Synchronization
import ToolformerSystemd

/// Says READY=1 once the socket listens and the MCP servers' start-up wait is over, whichever
/// comes last: a client that connects at READY finds the servers that could start in time.
final class ReadyGate: Sendable {
    private struct State {
        var listening: String? = nil
        var mcpSettled = false
        var sent = false
    }

    private let notifier: SystemdNotifier
    private let state = Mutex(State())

    init(notifier: SystemdNotifier) { self.notifier = notifier }

    func listening(status: String) {
        state.withLock { $0.listening = status }
        sendIfReady()
    }

    func mcpSettled() {
        state.withLock { $0.mcpSettled = true }
        sendIfReady()
    }

    private func sendIfReady() {
        let status: String? = state.withLock { state in
            guard let status = state.listening, state.mcpSettled, !state.sent else { return nil }
            state.sent = true
            return status
        }
        if let status { notifier.ready(status: status) }
    }
}
