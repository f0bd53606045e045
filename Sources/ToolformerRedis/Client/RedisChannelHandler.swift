import DequeModule
import NIOCore
import Synchronization

/// Where one command's reply goes. Completing it twice is harmless: a reply, a timeout and a
/// closing connection may all try, and the first one wins.
final class ReplySlot: Sendable {
    let promise: EventLoopPromise<RESPValue>
    private let done = Atomic<Bool>(false)

    init(_ promise: EventLoopPromise<RESPValue>) { self.promise = promise }

    func complete(_ result: Result<RESPValue, RedisError>) {
        guard done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        switch result {
        case .success(let value): promise.succeed(value)
        case .failure(let error): promise.fail(error)
        }
    }
}

/// Encodes commands as they are written, and hands replies to them in order: RESP answers a
/// connection's commands in the order they were sent, which is what makes pipelining work with
/// nothing but a queue.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = (RedisCommand, ReplySlot)
    typealias OutboundOut = ByteBuffer

    private let parser: RESPParser
    private var pending = Deque<ReplySlot>()
    private var received: ByteBuffer?
    private var failure: RedisError?

    init(parser: RESPParser) { self.parser = parser }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (command, slot) = unwrapOutboundIn(data)
        if let failure {
            slot.complete(.failure(failure))
            promise?.fail(failure)
            return
        }
        pending.append(slot)
        var buffer = context.channel.allocator.buffer(capacity: RESPEncoder.encodedSize(command))
        RESPEncoder.encode(command, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received == nil || received!.readableBytes == 0 {
            received = incoming
        } else {
            received!.writeBuffer(&incoming)
        }
        do {
            while let value = try parser.parse(&received!) {
                guard let slot = pending.popFirst() else {
                    fail(context, .protocolError("a reply with no command waiting for it"))
                    return
                }
                if case .error(let message) = value {
                    slot.complete(.failure(.server(message)))
                } else {
                    slot.complete(.success(value))
                }
            }
            received!.discardReadBytes()
        } catch {
            fail(context, .protocolError(error.description))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(failure ?? .connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, error as? RedisError ?? .connectFailed("\(error)"))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: RedisError) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        if failure == nil { failure = error }
        while let slot = pending.popFirst() { slot.complete(.failure(error)) }
    }
}
