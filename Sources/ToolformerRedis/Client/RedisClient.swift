public import NIOCore
import NIOPosix
import Synchronization
public import ToolformerCore

/// A small pool of pipelined connections to one Redis.
///
/// Connections open on first use and again after they close, each at most once per backoff
/// period (doubling from 50 ms to 2 s while attempts keep failing), so a Redis that is down costs
/// one failed connect per connection and period, not one per command.
public final class RedisClient: RedisCommands {
    public struct Settings: Sendable, Equatable {
        public var poolSize: Int
        public var connectTimeoutMs: Int
        public var commandTimeoutMs: Int
        public var replyLimits: RESPParser.Limits

        public init(poolSize: Int = 4, connectTimeoutMs: Int = 1000, commandTimeoutMs: Int = 250, replyLimits: RESPParser.Limits = .init()) {
            self.poolSize = max(1, poolSize)
            self.connectTimeoutMs = connectTimeoutMs
            self.commandTimeoutMs = commandTimeoutMs
            self.replyLimits = replyLimits
        }
    }

    private enum SlotState {
        case idle
        case connecting(EventLoopFuture<RedisConnection>)
        case connected(RedisConnection)
        case failed(RedisError, retryAt: NIODeadline, backoff: TimeAmount)
    }

    public let endpoint: RedisEndpoint
    public let settings: Settings
    private let eventLoops: any EventLoopGroup
    private final class Slot: Sendable {
        let state = Mutex<SlotState>(.idle)
    }

    private let slots: [Slot]
    private let next = Atomic<Int>(0)
    private let shutDown = Atomic<Bool>(false)

    public init(endpoint: RedisEndpoint, settings: Settings, eventLoopGroup: any EventLoopGroup) {
        self.endpoint = endpoint
        self.settings = settings
        eventLoops = eventLoopGroup
        slots = (0..<settings.poolSize).map { _ in Slot() }
    }

    public func send(_ command: RedisCommand, affinity: Int?) async throws(RedisError) -> RESPValue {
        let index: Int
        if let affinity {
            index = Int(UInt(bitPattern: affinity) % UInt(slots.count))
        } else {
            index = next.wrappingAdd(1, ordering: .relaxed).oldValue % slots.count
        }
        let connection = try await connection(index)
        do {
            return try await connection.send(command).get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw .connectionClosed
        }
    }

    /// Opens one connection and logs in, outside the pool: start-up and reload use it to find out
    /// whether the password and database are right before committing to them.
    public static func check(endpoint: RedisEndpoint, settings: Settings, eventLoopGroup: any EventLoopGroup) async throws(RedisError) {
        do {
            let connection = try await RedisConnection.connect(to: endpoint, settings: settings, on: eventLoopGroup.next()).get()
            connection.close()
        } catch let error as RedisError {
            throw error
        } catch {
            throw .connectFailed("\(error)")
        }
    }

    /// Closes every connection; later commands fail with ``RedisError/closed``.
    public func shutdown() {
        shutDown.store(true, ordering: .relaxed)
        for slot in slots {
            let state = slot.state.withLock { state in
                defer { state = .idle }
                return state
            }
            switch state {
            case .connected(let connection): connection.close()
            case .connecting(let future): future.whenSuccess { $0.close() }
            default: break
            }
        }
    }

    /// Lets every connection that failed try again at once (the probe has just seen Redis answer).
    public func resetBackoff() {
        for slot in slots {
            slot.state.withLock { state in
                if case .failed = state { state = .idle }
            }
        }
    }

    /// Connections open now.
    public var openConnections: Int {
        slots.reduce(0) { count, slot in
            if case .connected(let connection) = slot.state.withLock({ $0 }), connection.isActive { return count + 1 }
            return count
        }
    }

    private func connection(_ index: Int) async throws(RedisError) -> RedisConnection {
        if shutDown.load(ordering: .relaxed) { throw .closed }
        let slot = slots[index]
        let now = NIODeadline.now()
        // Decided under the lock; the completion is registered outside it, since NIO may run it
        // at once on an event-loop thread, and the lock is not reentrant.
        let action: Result<(future: EventLoopFuture<RedisConnection>, started: TimeAmount?), RedisError> = slot.state.withLock { state in
            var backoff = TimeAmount.milliseconds(50)
            switch state {
            case .connected(let connection) where connection.isActive:
                return .success((connection.channel.eventLoop.makeSucceededFuture(connection), nil))
            case .connecting(let future):
                return .success((future, nil))
            case .failed(let error, let retryAt, _) where retryAt > now:
                return .failure(error)
            case .failed(_, _, let last):
                backoff = min(last * 2, .seconds(2))
            case .connected, .idle:
                break
            }
            let future = RedisConnection.connect(to: endpoint, settings: settings, on: eventLoops.next())
            state = .connecting(future)
            return .success((future, backoff))
        }
        if case .success((let future, let backoff?)) = action {
            future.whenComplete { [slot, self] result in
                if self.shutDown.load(ordering: .relaxed), case .success(let connection) = result { connection.close() }
                slot.state.withLock { state in
                    guard case .connecting(let current) = state, current === future else { return }
                    switch result {
                    case .success(let connection): state = .connected(connection)
                    case .failure(let error):
                        state = .failed(error as? RedisError ?? .connectionClosed, retryAt: .now() + backoff, backoff: backoff)
                    }
                }
            }
        }
        switch action {
        case .failure(let error): throw error
        case .success(let (future, _)):
            do {
                return try await future.get()
            } catch let error as RedisError {
                throw error
            } catch {
                throw .connectionClosed
            }
        }
    }
}

