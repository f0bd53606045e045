import Glibc
import Testing
import ToolformerTesting

@Suite struct NotifyListenerTests {
    private func send(_ text: String, to path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let sent = text.withCString { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, text, strlen(text), 0, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        #expect(sent == text.utf8.count)
    }

    @Test func collectsDatagramsAndWaitsForAnAssignment() throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        try send("STATUS=starting", to: listener.path)
        try send("READY=1\nSTATUS=up", to: listener.path)
        let messages = try listener.waitFor("READY=1", timeout: .seconds(2))
        #expect(messages == ["STATUS=starting", "READY=1\nSTATUS=up"])
        #expect(listener.messages == messages)
    }

    @Test func aPrefixIsNotAMatchAndTimeoutThrows() throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        try send("READY=10", to: listener.path)
        #expect(throws: NotifyListenerError.self) {
            try listener.waitFor("READY=1", timeout: .milliseconds(50))
        }
    }

    @Test func closeRemovesTheSocketFile() throws {
        let listener = try NotifyListener()
        #expect(access(listener.path, F_OK) == 0)
        listener.close()
        #expect(access(listener.path, F_OK) != 0)
        #expect(throws: NotifyListenerError.self) { try listener.waitFor("READY=1", timeout: .milliseconds(10)) }
        listener.close()
    }
}
