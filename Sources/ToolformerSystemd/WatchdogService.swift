public import Logging
public import ServiceLifecycle

/// Pings systemd's watchdog, but only while the daemon proves it still works.
///
/// Every `interval / 2` it runs `probe` (which should go through the event loop and the
/// orchestrator, so a wedged daemon fails it) and sends `WATCHDOG=1` only when the probe returned
/// `true` within that period. A probe that returns `false` or hangs past its timeout means no ping;
/// systemd then restarts the daemon after `WatchdogSec=`. One warning is logged per failure streak.
///
/// Ends on graceful shutdown or cancellation. The probe should honour cancellation: a probe still
/// running at shutdown is cancelled and awaited, because it runs as a child task.
public struct WatchdogService: Service, CustomStringConvertible {
    private let notifier: SystemdNotifier
    private let period: Duration
    private let probeTimeout: Duration
    private let logger: Logger
    private let probe: @Sendable () async -> Bool

    public var description: String { "WatchdogService" }

    /// - Parameter interval: systemd's `WatchdogSec=`, usually `SystemdWatchdog.interval()`.
    public init(
        notifier: SystemdNotifier,
        interval: Duration,
        logger: Logger,
        probe: @escaping @Sendable () async -> Bool
    ) {
        self.notifier = notifier
        self.period = interval / 2
        // Shorter than the period, so that a period's verdict is known before the next one starts.
        self.probeTimeout = interval * 3 / 8
        self.logger = logger
        self.probe = probe
    }

    public func run() async throws {
        guard period > .zero else {
            try? await gracefulShutdown()
            return
        }
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        let clock = ContinuousClock()

        await withDiscardingTaskGroup { group in
            group.addTask { [period, probeTimeout] in
                await Self.schedule(clock: clock, period: period, probeTimeout: probeTimeout, into: continuation)
            }

            var machine = WatchdogStateMachine()
            for await event in events.cancelOnGracefulShutdown() {
                let action: WatchdogStateMachine.Action
                switch event {
                case .tick(let n): action = machine.tick(n)
                case .deadline(let n): action = machine.deadline(n)
                case .probeFinished(let n, let healthy): action = machine.probeFinished(n, healthy: healthy)
                }
                switch action {
                case .none:
                    break
                case .startProbe(let n):
                    group.addTask { [probe] in
                        let healthy = await probe()
                        continuation.yield(.probeFinished(period: n, healthy: healthy))
                    }
                case .ping(let recoveredAfter):
                    notifier.watchdogPing()
                    if let recoveredAfter {
                        logger.notice(
                            "watchdog probe healthy again, pinging systemd",
                            metadata: ["watchdog.failed_periods": "\(recoveredAfter)"]
                        )
                    }
                case .failed(let reason, _, let warn):
                    if warn {
                        logger.warning(
                            "watchdog probe failed, not pinging systemd",
                            metadata: [
                                "watchdog.reason": "\(reason.rawValue)",
                                "watchdog.probe_timeout": "\(probeTimeout)",
                            ]
                        )
                    }
                }
            }
            continuation.finish()
            group.cancelAll()
        }
    }

    enum Event: Sendable {
        case tick(UInt64)
        case deadline(UInt64)
        case probeFinished(period: UInt64, healthy: Bool)
    }

    /// Emits `tick(n)` then `deadline(n)` for each period, on a drift-free schedule that skips
    /// periods rather than bursting after the process was suspended.
    private static func schedule(
        clock: ContinuousClock,
        period: Duration,
        probeTimeout: Duration,
        into continuation: AsyncStream<Event>.Continuation
    ) async {
        var n: UInt64 = 0
        var start = clock.now
        while !Task.isCancelled {
            continuation.yield(.tick(n))
            do {
                try await clock.sleep(until: start + probeTimeout)
                continuation.yield(.deadline(n))
                try await clock.sleep(until: start + period)
            } catch {
                return
            }
            n += 1
            let next = start + period
            start = clock.now - next > period ? clock.now : next
        }
    }
}
