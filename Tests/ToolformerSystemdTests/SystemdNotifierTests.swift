import Glibc
import Testing
import ToolformerTesting

@testable import ToolformerSystemd

extension ProcessEnvironmentTests {
    @Suite struct SystemdNotifierTests {
        @Test func readySendsReadyAndStatusInOneDatagram() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                let notifier = SystemdNotifier()
                #expect(notifier.isEnabled)
                notifier.ready(status: "serving 3 tools")
                let messages = try listener.waitFor("READY=1", timeout: .seconds(2))
                #expect(messages == ["READY=1\nSTATUS=serving 3 tools"])
            }
        }

        @Test func readyWithoutStatus() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                SystemdNotifier().ready()
                let messages = try listener.waitFor("READY=1", timeout: .seconds(2))
                #expect(messages == ["READY=1"])
            }
        }

        @Test func reloadingCarriesTheMonotonicClockInTheSameDatagram() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                let before = Self.monotonicNow()
                SystemdNotifier().reloading()
                let after = Self.monotonicNow()

                let messages = try listener.waitFor("RELOADING=1", timeout: .seconds(2))
                let message = try #require(messages.first { $0.contains("RELOADING=1") })
                let lines = message.split(separator: "\n").map(String.init)
                #expect(lines.count == 2)
                #expect(lines.first == "RELOADING=1")
                let stamp = try #require(lines.first { $0.hasPrefix("MONOTONIC_USEC=") })
                let usec = try #require(UInt64(stamp.dropFirst("MONOTONIC_USEC=".count)))
                #expect(before <= usec && usec <= after)
            }
        }

        @Test func stoppingStatusExtendTimeoutWatchdogAndRaw() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                let notifier = SystemdNotifier()
                notifier.stopping()
                notifier.stopping(status: "draining 2 requests")
                notifier.status("still draining")
                notifier.extendTimeout(microseconds: 5_000_000)
                notifier.watchdogPing()
                notifier.send("X_CUSTOM=1\nSTATUS=raw")
                notifierBarrier()
                let messages = try listener.waitFor("DONE=1", timeout: .seconds(2))
                #expect(
                    messages == [
                        "STOPPING=1",
                        "STOPPING=1\nSTATUS=draining 2 requests",
                        "STATUS=still draining",
                        "EXTEND_TIMEOUT_USEC=5000000",
                        "WATCHDOG=1",
                        "X_CUSTOM=1\nSTATUS=raw",
                        "DONE=1",
                    ]
                )
            }
        }

        @Test func fatalSendsStatusAndErrno() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                SystemdNotifier().fatal(status: "cannot read /etc/toolformer/toolformerd.toml", errno: ENOENT)
                let messages = try listener.waitFor("ERRNO=\(ENOENT)", timeout: .seconds(2))
                #expect(messages == ["STATUS=cannot read /etc/toolformer/toolformerd.toml\nERRNO=2"])
            }
        }

        @Test func newlinesInAStatusCannotInjectAssignments() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                SystemdNotifier().status("bad config\nREADY=1")
                notifierBarrier()
                let messages = try listener.waitFor("DONE=1", timeout: .seconds(2))
                #expect(messages.first == "STATUS=bad config READY=1")
                #expect(!messages.contains { $0.split(separator: "\n").contains("READY=1") })
            }
        }

        @Test func withoutNotifySocketEverythingIsSilent() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            await withEnvironment(["NOTIFY_SOCKET": nil]) {
                let notifier = SystemdNotifier()
                #expect(!notifier.isEnabled)
                notifier.ready(status: "x")
                notifier.reloading()
                notifier.stopping()
                notifier.status("x")
                notifier.extendTimeout(microseconds: 1)
                notifier.watchdogPing()
                notifier.fatal(status: "x", errno: 1)
                notifier.send("READY=1")
            }
            #expect(listener.messages.isEmpty)
        }

        @Test func theEnvironmentIsReadOnceAtInit() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            let notifier = await withEnvironment(["NOTIFY_SOCKET": nil]) { SystemdNotifier() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                notifier.ready()
                SystemdNotifier().send("DONE=1")
                let messages = try listener.waitFor("DONE=1", timeout: .seconds(2))
                #expect(messages == ["DONE=1"])
            }
        }

        /// A marker datagram: once it arrived, everything sent before it has too (one socket, in order).
        private func notifierBarrier() {
            SystemdNotifier().send("DONE=1")
        }

        static func monotonicNow() -> UInt64 {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        }
    }
}
