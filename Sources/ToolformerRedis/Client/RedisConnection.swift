import NIOCore
import NIOPosix
import ToolformerCore

#if canImport(Glibc)
import Glibc
#endif

/// One connection to Redis: commands pipelined on it, replies matched in order.
///
/// A command that gets no reply within the command timeout fails, and closes the connection:
/// every reply behind it would be late too, and order is the only way replies find their commands.
final class RedisConnection: Sendable {
    let channel: any Channel
    private let commandTimeout: TimeAmount
    private let commandTimeoutMs: Int

    private init(channel: any Channel, commandTimeoutMs: Int) {
        self.channel = channel
        self.commandTimeoutMs = commandTimeoutMs
        commandTimeout = .milliseconds(Int64(commandTimeoutMs))
    }

    var isActive: Bool { channel.isActive }

    /// Opens a connection and logs in: AUTH when there is a password, SELECT when the database is
    /// not 0, then PING (which also finds out whether the server wants a password it was not given).
    static func connect(
        to endpoint: RedisEndpoint, settings: RedisClient.Settings, on eventLoop: any EventLoop
    ) -> EventLoopFuture<RedisConnection> {
        let parser = RESPParser(limits: settings.replyLimits)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(Int64(settings.connectTimeoutMs)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(parser: parser))
                }
            }
        let connecting: EventLoopFuture<any Channel>
        switch endpoint.address {
        case .tcp(let host, let port): connecting = bootstrap.connect(host: host, port: port)
        case .unix(let path): connecting = bootstrap.connect(unixDomainSocketPath: path)
        }
        let timeoutMs = settings.connectTimeoutMs
        return connecting.flatMapErrorThrowing { error in
            if case ChannelError.connectTimeout = error { throw RedisError.connectTimeout(ms: timeoutMs) }
            throw RedisError.connectFailed(Self.describe(error))
        }.flatMap { channel in
            let connection = RedisConnection(channel: channel, commandTimeoutMs: settings.commandTimeoutMs)
            return connection.handshake(endpoint).map { connection }.flatMapError { error -> EventLoopFuture<RedisConnection> in
                channel.close(promise: nil)
                return eventLoop.makeFailedFuture(error)
            }
        }
    }

    func send(_ command: RedisCommand) -> EventLoopFuture<RESPValue> {
        let slot = ReplySlot(channel.eventLoop.makePromise(of: RESPValue.self))
        let channel = channel
        let timeout = RedisError.commandTimeout(command.description, ms: commandTimeoutMs)
        let timer = channel.eventLoop.scheduleTask(in: commandTimeout) {
            slot.complete(.failure(timeout))
            channel.pipeline.fireErrorCaught(timeout)
        }
        slot.promise.futureResult.whenComplete { _ in timer.cancel() }
        channel.writeAndFlush((command, slot)).whenFailure { error in
            slot.complete(.failure(error as? RedisError ?? .connectionClosed))
        }
        return slot.promise.futureResult
    }

    func close() { channel.close(promise: nil) }

    private func handshake(_ endpoint: RedisEndpoint) -> EventLoopFuture<Void> {
        var steps: [(RedisCommand, @Sendable (RedisError) -> RedisError)] = []
        if let password = endpoint.password {
            var arguments: [RedisArgument] = []
            if let user = endpoint.username { arguments.append(RedisArgument(user)) }
            arguments.append(RedisArgument(password))
            steps.append((RedisCommand("AUTH", arguments), Self.authFailure))
        }
        if endpoint.database != 0 {
            let database = endpoint.database
            steps.append((RedisCommand("SELECT", [RedisArgument(database)]), { error in
                guard let message = error.serverMessage else { return error }
                if message.hasPrefix("NOAUTH") { return RedisConnection.authFailure(error) }
                return .badDatabase("Redis has no database \(database) (it answered: \(message))")
            }))
        }
        steps.append((RedisCommand("PING"), Self.authFailure))
        var future = channel.eventLoop.makeSucceededVoidFuture()
        for (command, mapError) in steps {
            future = future.flatMap { [self] in
                send(command).map { _ in () }.flatMapErrorThrowing { error in
                    throw mapError(error as? RedisError ?? .connectionClosed)
                }
            }
        }
        return future
    }

    /// AUTH's and NOAUTH's errors as the operator needs to read them; other errors as they are.
    @Sendable static func authFailure(_ error: RedisError) -> RedisError {
        guard let message = error.serverMessage else { return error }
        if message.hasPrefix("WRONGPASS") || message.hasPrefix("ERR invalid password") {
            return .authentication("Redis refused the password (WRONGPASS): check cluster.password_file, cluster.credential or the user in cluster.redis_url")
        }
        if message.hasPrefix("NOAUTH") {
            return .authentication("Redis wants a password (NOAUTH), and none is configured: set cluster.password_file or cluster.credential")
        }
        if message.contains("without any password configured") {
            return .authentication("a password is configured, but Redis has none set for this user: remove it, or set requirepass on the server")
        }
        return error
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ENOENT: return "no such socket file"
            case EACCES: return "permission denied"
            case EHOSTUNREACH, ENETUNREACH: return "no route to host"
            default: return "errno \(io.errnoCode)"
            }
        }
        if let connect = error as? NIOConnectionError {
            if let first = connect.connectionErrors.first { return describe(first.error) }
            if connect.dnsAError != nil || connect.dnsAAAAError != nil { return "the host name does not resolve" }
        }
        return "\(error)"
    }
}

