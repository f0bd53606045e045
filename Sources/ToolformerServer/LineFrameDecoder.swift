package import NIOCore

/// One framed message, or the news that a line passed the size limit.
package enum LineFrame {
    case line(ByteBuffer)
    case tooLong
}

/// Splits the stream at `\n`, bounded by `maxLineBytes`.
///
/// A line over the limit is reported as soon as the limit is passed (the daemon never buffers more
/// than the limit for one line), and the rest of it is discarded up to its newline, so the
/// connection stays usable. Already-scanned bytes are not scanned again as a line grows.
package struct LineFrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = LineFrame

    package let maxLineBytes: Int
    private var discarding = false
    private var scanned = 0

    package init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        if let newline = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            scanned = 0
            if discarding {
                discarding = false
                buffer.moveReaderIndex(forwardBy: length + 1)
                return .continue
            }
            if length > maxLineBytes {
                buffer.moveReaderIndex(forwardBy: length + 1)
                context.fireChannelRead(NIOAny(LineFrame.tooLong))
                return .continue
            }
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(NIOAny(LineFrame.line(line)))
            return .continue
        }
        if discarding {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            scanned = 0
            return .needMoreData
        }
        if buffer.readableBytes > maxLineBytes {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            scanned = 0
            discarding = true
            context.fireChannelRead(NIOAny(LineFrame.tooLong))
            return .needMoreData
        }
        scanned = buffer.readableBytes
        return .needMoreData
    }

    package mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A last line without its newline (`printf '...' | socat`) is still a message.
        if !discarding, buffer.readableBytes > 0, let rest = buffer.readSlice(length: buffer.readableBytes) {
            context.fireChannelRead(NIOAny(LineFrame.line(rest)))
        }
        scanned = 0
        return .needMoreData
    }
}
