import NIOCore
import NIOEmbedded
import ToolformerProtocol
import ToolformerServer

/// What the fuzzer drives: the daemon's line decoder and request parser, on any bytes.
///
/// The input goes through `LineFrameDecoder` in chunks (split where its first byte says, so
/// partial reads are covered), each line through the json-c parser and the JSON-RPC envelope
/// check, and every parsed value through the writer and back. A broken invariant is a crash,
/// which is what libFuzzer looks for; the sanitizers catch memory errors on the way.
enum RequestFuzzer {
    /// Small, so that the fuzzer reaches the over-long path often.
    static let maxLineBytes = 512
    nonisolated(unsafe) static let parser = JSONParser(maxDepth: 64)

    static func run(_ input: UnsafeRawBufferPointer) {
        for line in frames(input) { check(line) }
    }

    static func frames(_ input: UnsafeRawBufferPointer) -> [[UInt8]] {
        let channel = EmbeddedChannel()
        do {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: maxLineBytes)))
            let split = input.isEmpty ? 0 : Int(input[0]) % (input.count + 1)
            for chunk in [input[..<split], input[split...]] where !chunk.isEmpty {
                try channel.writeInbound(channel.allocator.buffer(bytes: chunk))
            }
            _ = try channel.finish()
        } catch {
            fatalError("the line decoder threw: \(error)")
        }
        var lines: [[UInt8]] = []
        while let frame = try? channel.readInbound(as: LineFrame.self) {
            switch frame {
            case .line(let buffer):
                let bytes = Array(buffer.readableBytesView)
                precondition(!bytes.contains(0x0A), "a line holds a newline")
                precondition(bytes.count <= maxLineBytes, "a line of \(bytes.count) bytes passed the limit")
                lines.append(bytes)
            case .tooLong:
                break
            }
        }
        // Every line the input holds comes out, unless it was too long.
        let newlines = input.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        precondition(lines.count <= newlines + 1, "more lines than the input holds")
        return lines
    }

    static func check(_ line: [UInt8]) {
        let value: JSONValue
        do { value = try parser.parse(line) } catch { return }
        // What the daemon writes, it reads back as the same value.
        let written = JSONWriter.bytes(value)
        guard let reread = try? parser.parse(written) else {
            fatalError("the writer's output does not parse: \(String(decoding: written, as: UTF8.self))")
        }
        precondition(reread == value, "a value changed on its way through the writer")

        switch IncomingMessage.decode(value) {
        case .success(.request(let id, _, let params)):
            let response = MessageEncoder.result(id: id, .object(params))
            guard case .object(let object)? = try? parser.parse(response), object["id"].flatMap(RequestID.init) == id else {
                fatalError("a response does not carry its request's id")
            }
        case .failure(let envelope) where envelope.answerable:
            let response = MessageEncoder.error(id: envelope.id, envelope.error)
            precondition((try? parser.parse(response)) != nil, "an error response does not parse")
        default:
            break
        }
    }
}
