import Logging
import ServiceLifecycle
import Synchronization
import Testing
import ToolformerTesting

@testable import ToolformerSystemd

extension ProcessEnvironmentTests {
    @Suite(.timeLimit(.minutes(1))) struct WatchdogServiceTests {
        /// Runs the service for `duration`, or with `until`, until the pings so far satisfy it (at
        /// most 10 s: a loaded machine may be slow, never wrong), then cancels it; returns the pings
        /// systemd got and how long the service ran.
        private func pings(
            probe: @escaping @Sendable () async -> Bool,
            for duration: Duration = .milliseconds(500),
            until enough: (@Sendable (Int) -> Bool)? = nil,
            logs: RecordingLogHandlerStorage = RecordingLogHandlerStorage()
        ) async throws -> (count: Int, ran: Duration) {
            let listener = try NotifyListener()
            defer { listener.close() }
            func count() -> Int { listener.messages.filter { $0 == "WATCHDOG=1" }.count }
            return try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                let service = WatchdogService(
                    notifier: SystemdNotifier(),
                    interval: .milliseconds(100),
                    logger: logs.logger(),
                    probe: probe
                )
                let started = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await service.run() }
                    if let enough {
                        while !enough(count()) && ContinuousClock.now - started < .seconds(10) {
                            try await Task.sleep(for: .milliseconds(5))
                        }
                    } else {
                        try await Task.sleep(for: duration)
                    }
                    group.cancelAll()
                    try await group.waitForAll()
                }
                return (count(), ContinuousClock.now - started)
            }
        }

        @Test func aHealthyProbePingsEveryHalfInterval() async throws {
            let probes = Mutex(0)
            let (count, ran) = try await pings(
                probe: {
                    probes.withLock { $0 += 1 }
                    return true
                },
                until: { $0 >= 6 })
            #expect(count >= 6)
            #expect(count <= probes.withLock { $0 })
            // Never faster than every half interval (50 ms): the first ping comes at once, so six
            // take at least 250 ms. A slow machine may take longer; that is not what this checks.
            #expect(ran >= .milliseconds(250))
        }

        @Test func anUnhealthyProbeMeansNoPingAndOneWarning() async throws {
            let logs = RecordingLogHandlerStorage()
            let count = try await pings(probe: { false }, logs: logs).count
            #expect(count == 0)
            let warnings = logs.all.filter { $0.level == .warning }
            #expect(warnings.count == 1)
            #expect(warnings.first?.metadata?["watchdog.reason"] == "unhealthy")
        }

        @Test func aHangingProbeMeansNoPing() async throws {
            let logs = RecordingLogHandlerStorage()
            let started = Mutex(0)
            let count = try await pings(
                probe: {
                    started.withLock { $0 += 1 }
                    try? await Task.sleep(for: .seconds(3600))
                    return true
                },
                logs: logs
            ).count
            #expect(count == 0)
            // A hung probe is not stacked up behind: one runs, the later periods just fail.
            #expect(started.withLock { $0 } == 1)
            let warnings = logs.all.filter { $0.level == .warning }
            #expect(warnings.count == 1)
            #expect(warnings.first?.metadata?["watchdog.reason"] == "timed_out")
        }

        @Test func aSlowProbeThatMissesItsDeadlineDoesNotPing() async throws {
            let count = try await pings(probe: {
                try? await Task.sleep(for: .milliseconds(45))
                return true
            }).count
            #expect(count == 0)
        }

        @Test func pingsResumeAfterRecovery() async throws {
            let logs = RecordingLogHandlerStorage()
            let calls = Mutex(0)
            let count = try await pings(
                probe: { calls.withLock { $0 += 1; return $0 > 3 } },
                until: { $0 >= 2 },
                logs: logs
            ).count
            #expect(count >= 2)
            #expect(logs.all.filter { $0.level == .warning }.count == 1)
            let notice = try #require(logs.all.first { $0.level == .notice })
            #expect(notice.metadata?["watchdog.failed_periods"] == "3")
        }

        @Test func endsOnGracefulShutdown() async throws {
            let listener = try NotifyListener()
            defer { listener.close() }
            try await withEnvironment(["NOTIFY_SOCKET": listener.path]) {
                let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
                let service = WatchdogService(
                    notifier: SystemdNotifier(),
                    interval: .milliseconds(100),
                    logger: logger,
                    probe: { true }
                )
                let group = ServiceGroup(services: [service], logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    _ = try await listener.waitForAsync("WATCHDOG=1", timeout: .seconds(5))
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                // Nothing is sent once run() has returned.
                let after = listener.messages.count
                try await Task.sleep(for: .milliseconds(150))
                #expect(listener.messages.count == after)
            }
        }
    }
}
