#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The processes the benchmark started (daemons, the echo reference), so that Ctrl-C or a SIGTERM
/// does not leave them running: they sit in process groups of their own and would not hear it.
///
/// Slots are atomics, because the signal handler reads them and may take no lock. At most four
/// children live at once: the daemon, the echo reference, and one a scenario starts.
enum ChildProcesses {
    private static let slot0 = Atomic<Int32>(0)
    private static let slot1 = Atomic<Int32>(0)
    private static let slot2 = Atomic<Int32>(0)
    private static let slot3 = Atomic<Int32>(0)

    private static func withSlot<Result>(_ index: Int, _ body: (borrowing Atomic<Int32>) -> Result) -> Result {
        switch index {
        case 0: body(slot0)
        case 1: body(slot1)
        case 2: body(slot2)
        default: body(slot3)
        }
    }

    static func add(_ pid: pid_t) {
        for index in 0..<4 {
            let taken = withSlot(index) { $0.compareExchange(expected: 0, desired: pid, ordering: .acquiringAndReleasing).exchanged }
            if taken { return }
        }
    }

    static func remove(_ pid: pid_t) {
        for index in 0..<4 {
            withSlot(index) { _ = $0.compareExchange(expected: pid, desired: 0, ordering: .acquiringAndReleasing) }
        }
    }

    /// Kills every registered child on SIGINT and SIGTERM, then exits 128 + the signal.
    static func killOnInterrupt() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            for index in 0..<4 {
                let pid = ChildProcesses.withSlot(index) { $0.load(ordering: .acquiring) }
                if pid > 0 { kill(pid, SIGKILL) }
            }
            _exit(128 + signal)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }
}
