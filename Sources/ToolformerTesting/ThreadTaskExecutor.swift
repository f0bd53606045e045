import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A task executor with a thread of its own.
///
/// The blocking test code (a synchronous client waiting on a socket) would otherwise occupy
/// Swift's cooperative threads, of which a 2-core machine has two: two blocked tests and every
/// async test, and every in-process server the tests wait on, would stall. Blocking tests run on
/// one of these (see `.ownThread` in ToolformerTestTraits), and in-process servers answer on one.
public final class ThreadTaskExecutor: TaskExecutor, @unchecked Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var stopping = false
    }

    private let state = Mutex(State())
    private let ready = DispatchSemaphore(value: 0)

    /// Threads that belong to an executor, for a test to prove where it runs.
    private static let threads = Mutex<Set<UInt>>([])

    public init(name: String) {
        let thread = Thread { [self] in
            let me = UInt(bitPattern: Int(bitPattern: pthread_self()))
            Self.threads.withLock { _ = $0.insert(me) }
            run()
            Self.threads.withLock { _ = $0.remove(me) }
        }
        thread.name = name
        thread.start()
    }

    /// Whether the caller runs on one of these executors' threads (not on the cooperative pool).
    public static var isCurrentThreadAnExecutor: Bool {
        threads.withLock { $0.contains(UInt(bitPattern: Int(bitPattern: pthread_self()))) }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        state.withLock { $0.jobs.append(unowned) }
        ready.signal()
    }

    /// Lets the thread end once its queue is empty.
    public func shutdown() {
        state.withLock { $0.stopping = true }
        ready.signal()
    }

    private func run() {
        while true {
            ready.wait()
            let (job, stop) = state.withLock { state -> (UnownedJob?, Bool) in
                if state.jobs.isEmpty { return (nil, state.stopping) }
                return (state.jobs.removeFirst(), false)
            }
            if let job { job.runSynchronously(on: asUnownedTaskExecutor()) }
            if stop { return }
        }
    }

    /// One executor for all in-process test servers: the thread lives as long as the process.
    public static let testServers = ThreadTaskExecutor(name: "test-servers")
}
