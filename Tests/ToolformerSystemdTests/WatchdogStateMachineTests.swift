import Testing

@testable import ToolformerSystemd

@Suite struct WatchdogStateMachineTests {
    @Test func aHealthyAnswerInTimePings() {
        var machine = WatchdogStateMachine()
        #expect(machine.tick(0) == .startProbe(period: 0))
        #expect(machine.probeFinished(0, healthy: true) == .ping(recoveredAfter: nil))
        #expect(machine.deadline(0) == .none)
        #expect(machine.tick(1) == .startProbe(period: 1))
    }

    @Test func anUnhealthyAnswerFailsAndWarnsOncePerStreak() {
        var machine = WatchdogStateMachine()
        _ = machine.tick(0)
        #expect(machine.probeFinished(0, healthy: false) == .failed(.unhealthy, streak: 1, warn: true))
        _ = machine.tick(1)
        #expect(machine.probeFinished(1, healthy: false) == .failed(.unhealthy, streak: 2, warn: false))
        _ = machine.tick(2)
        #expect(machine.probeFinished(2, healthy: true) == .ping(recoveredAfter: 2))
        _ = machine.tick(3)
        #expect(machine.probeFinished(3, healthy: false) == .failed(.unhealthy, streak: 1, warn: true))
    }

    @Test func aLateAnswerNeitherPingsNorFailsTwice() {
        var machine = WatchdogStateMachine()
        _ = machine.tick(0)
        #expect(machine.deadline(0) == .failed(.timedOut, streak: 1, warn: true))
        #expect(machine.probeFinished(0, healthy: true) == .none)
        #expect(machine.tick(1) == .startProbe(period: 1))
    }

    @Test func aHungProbeBlocksNewOnesAndEveryPeriodFails() {
        var machine = WatchdogStateMachine()
        _ = machine.tick(0)
        _ = machine.deadline(0)
        #expect(machine.tick(1) == .failed(.stillRunning, streak: 2, warn: false))
        #expect(machine.deadline(1) == .none)
        #expect(machine.tick(2) == .failed(.stillRunning, streak: 3, warn: false))
        // The hung probe finally returns: too late for any period, but the next one may start.
        #expect(machine.probeFinished(0, healthy: true) == .none)
        #expect(machine.tick(3) == .startProbe(period: 3))
        #expect(machine.probeFinished(3, healthy: true) == .ping(recoveredAfter: 3))
    }
}
