import Synchronization

/// Tells observers when the tool set that `tools/list` shows has changed: a reload that adds,
/// removes or redefines a tool, or an MCP server whose tools come and go.
///
/// Holds a generation counter and what the last listing looked like, so a reload that leaves
/// every definition as it was notifies nobody. Observers run on the thread that changed the
/// registry and must not block (the server only queues a write to each subscribed connection).
public final class ToolListChanges: Sendable {
    /// Returned by ``observe(_:)``; pass it to ``removeObserver(_:)``.
    public struct Token: Sendable, Hashable {
        let id: UInt64
    }

    private struct State {
        var generation: UInt64 = 0
        var listing: [ToolDefinition]?
        var nextToken: UInt64 = 1
        var observers: [UInt64: @Sendable (UInt64) -> Void] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Counts changes of the listed tools; starts at 0 and only grows.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Calls `observer` with the new generation after each change, until removed.
    public func observe(_ observer: @escaping @Sendable (UInt64) -> Void) -> Token {
        state.withLock { state in
            let token = Token(id: state.nextToken)
            state.nextToken += 1
            state.observers[token.id] = observer
            return token
        }
    }

    public func removeObserver(_ token: Token) {
        state.withLock { _ = $0.observers.removeValue(forKey: token.id) }
    }

    /// Records the tools now listed (in `tools/list` order); a difference from the last listing
    /// bumps the generation and tells every observer. The first listing sets the baseline.
    func update(_ listing: [ToolDefinition]) {
        let notify: (UInt64, [@Sendable (UInt64) -> Void])? = state.withLock { state in
            defer { state.listing = listing }
            guard let previous = state.listing, previous != listing else { return nil }
            state.generation += 1
            return (state.generation, Array(state.observers.values))
        }
        // Outside the lock: an observer may read the registry or remove itself.
        guard let (generation, observers) = notify else { return }
        for observer in observers { observer(generation) }
    }
}
