import Glibc
import Testing

@testable import ToolformerSystemd

extension ProcessEnvironmentTests {
    @Suite struct SocketActivationTests {
        private static let names = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]

        private static func isSet(_ name: String) -> Bool { getenv(name) != nil }

        @Test func notActivatedGivesNothing() async {
            let sockets = await withEnvironment(["LISTEN_FDS": nil, "LISTEN_PID": nil, "LISTEN_FDNAMES": nil]) {
                SocketActivation.takeListenedSockets()
            }
            #expect(sockets.isEmpty)
        }

        @Test func socketsForAnotherProcessAreIgnoredAndTheVariablesRemoved() async {
            let foreign = ["LISTEN_FDS": "1", "LISTEN_PID": "\(getpid() + 1)", "LISTEN_FDNAMES": "toolformerd.socket"]
            await withEnvironment(foreign) {
                #expect(SocketActivation.takeListenedSockets().isEmpty)
                for name in Self.names { #expect(!Self.isSet(name), "\(name) is still set") }
            }
        }

        @Test func malformedVariablesGiveNothing() async {
            await withEnvironment(["LISTEN_FDS": "many", "LISTEN_PID": "\(getpid())", "LISTEN_FDNAMES": nil]) {
                #expect(SocketActivation.takeListenedSockets().isEmpty)
                for name in Self.names { #expect(!Self.isSet(name), "\(name) is still set") }
            }
        }
    }
}
