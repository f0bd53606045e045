import Foundation
import Logging
import MCP
import Subprocess

/// The SDK's `Transport` over a child's stdin and stdout, as swift-subprocess hands them out.
///
/// Not the SDK's `StdioTransport`: that one defaults to the daemon's own stdin/stdout, polls its
/// descriptors every 10 ms while idle, and never closes them, so a restarted server's numbers
/// could be reused under it. Here writes go through Subprocess's writer (serialized, so two
/// messages never interleave), and lines read by the supervisor's stdout task are delivered with
/// `deliver`; `end` fails the stream when the child's stdout closes.
actor MCPPipeTransport: Transport {
    nonisolated let logger: Logger
    private let writer: StandardInputWriter
    private var isOpen = true
    private var writing = false
    private var waitingWriters: [CheckedContinuation<Void, Never>] = []
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation

    init(writer: StandardInputWriter, logger: Logger) {
        self.writer = writer
        self.logger = logger
        (messages, continuation) = AsyncThrowingStream.makeStream(of: Data.self)
    }

    func connect() async throws {}

    func disconnect() async {
        isOpen = false
        continuation.finish(throwing: MCPError.connectionClosed)
        try? await writer.finish()
    }

    func send(_ data: Data) async throws {
        while writing { await withCheckedContinuation { waitingWriters.append($0) } }
        writing = true
        defer {
            writing = false
            if !waitingWriters.isEmpty { waitingWriters.removeFirst().resume() }
        }
        guard isOpen else { throw MCPError.connectionClosed }
        var bytes = [UInt8](data)
        bytes.append(UInt8(ascii: "\n"))
        let written = try await writer.write(bytes)
        // Subprocess reports 0 once the child has gone: nothing will read this message.
        if written < bytes.count { throw MCPError.connectionClosed }
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// One line the child wrote to stdout, without its newline.
    nonisolated func deliver(_ line: Data) { continuation.yield(line) }

    /// The child's stdout closed. The stream ends with an error, never normally: the SDK's
    /// `Client` (0.12.1) asks for the stream again after it ends normally, and spins on the
    /// finished stream until disconnected, holding a thread of the cooperative pool.
    nonisolated func end() { continuation.finish(throwing: MCPError.connectionClosed) }
}
