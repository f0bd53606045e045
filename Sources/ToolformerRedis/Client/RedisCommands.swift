import Synchronization

/// What the daemon needs of a Redis client: send a command, get its reply. A small protocol so
/// that a maintained client can replace ``RedisClient`` without touching the cache, lease or
/// rate-limit code.
public protocol RedisCommands: Sendable {
    /// Sends `command` and returns its reply; an error reply is thrown as ``RedisError/server(_:)``.
    /// Commands with the same `affinity` go over the same connection, so they reach the server in
    /// the order they were sent.
    func send(_ command: RedisCommand, affinity: Int?) async throws(RedisError) -> RESPValue
}

extension RedisCommands {
    public func send(_ command: RedisCommand) async throws(RedisError) -> RESPValue {
        try await send(command, affinity: nil)
    }

    public func send(_ name: String, _ arguments: RedisArgument...) async throws(RedisError) -> RESPValue {
        try await send(RedisCommand(name, arguments), affinity: nil)
    }

    /// Runs `script` by its SHA1 (EVALSHA); when the server does not know it (NOSCRIPT: a restart,
    /// SCRIPT FLUSH) sends its source once with EVAL, which caches it again.
    public func eval(
        _ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument], affinity: Int? = nil
    ) async throws(RedisError) -> RESPValue {
        let tail = [RedisArgument(keys.count)] + keys + arguments
        let sha: String
        if let known = script.sha {
            sha = known
        } else {
            guard let loaded = try await send(RedisCommand("SCRIPT", ["LOAD", RedisArgument(script.source)]), affinity: affinity).string
            else { throw .protocolError("SCRIPT LOAD did not answer with a SHA1") }
            script.sha = loaded
            sha = loaded
        }
        do {
            return try await send(RedisCommand("EVALSHA", [RedisArgument(sha)] + tail), affinity: affinity)
        } catch where error.serverMessage?.hasPrefix("NOSCRIPT") == true {
            script.noscriptFallbacks += 1
            return try await send(RedisCommand("EVAL", [RedisArgument(script.source)] + tail), affinity: affinity)
        }
    }
}

/// A Lua script, and its SHA1 once the server told it.
public final class RedisScript: Sendable {
    public let source: String
    private let state = Mutex<(sha: String?, fallbacks: Int)>((nil, 0))

    public init(_ source: String) { self.source = source }

    public var sha: String? {
        get { state.withLock { $0.sha } }
        set { state.withLock { $0.sha = newValue } }
    }

    /// How often EVALSHA met NOSCRIPT and the source was sent again.
    public var noscriptFallbacks: Int {
        get { state.withLock { $0.fallbacks } }
        set { state.withLock { $0.fallbacks = newValue } }
    }
}
