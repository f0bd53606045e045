import Testing
@testable import ToolformerMCP

/// The `text/event-stream` parser of the Streamable HTTP transport.
@Suite struct ServerSentEventsTests {
    func text(_ events: [ServerSentEvents.Event]) -> [String] { events.map { String(decoding: $0.data, as: UTF8.self) } }

    @Test func eventsSplitAcrossChunksArriveWhole() {
        var parser = ServerSentEvents()
        let stream = "event: message\r\nid: 1\ndata: {\"a\":\ndata: 1}\n\n: a comment\ndata:{\"b\":2}\n\n"
        var events: [ServerSentEvents.Event] = []
        // Fed a few bytes at a time, as a network delivers it.
        let bytes = Array(stream.utf8)
        var index = 0
        while index < bytes.count {
            let end = min(index + 5, bytes.count)
            events += parser.feed(bytes[index..<end])
            index = end
        }
        events += parser.finish()
        #expect(text(events) == ["{\"a\":\n1}", "{\"b\":2}"])
        #expect(events.map(\.event) == ["message", nil])
        // The id belongs to its event only (it is what a resumed stream's Last-Event-ID names).
        #expect(events.map(\.id) == ["1", nil])
    }

    @Test func aLastEventWithoutItsBlankLineIsKeptAtTheEnd() {
        var parser = ServerSentEvents()
        #expect(parser.feed(Array("data: x\n".utf8)).isEmpty)
        #expect(text(parser.finish()) == ["x"])
        #expect(parser.finish().isEmpty)
    }

    @Test func linesWithoutDataMakeNoEvent() {
        var parser = ServerSentEvents()
        #expect(parser.feed(Array("retry: 100\n\nevent: ping\n\n".utf8)).isEmpty)
    }
}
