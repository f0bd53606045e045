public import Testing
import ToolformerTesting

/// Runs each test of a suite on a thread of its own, and admits it only when the machine has room.
///
/// These tests block on sockets and child processes, so they must not hold the cooperative pool's
/// few threads that async tests and in-process servers need (a 2-core machine has two). And each
/// starts a daemon, a redis-server or an MCP server: started all at once, a few hundred of them
/// leave a small machine so loaded that a shell script takes seconds to start, and bounds that
/// tell "at once" from "after a timeout" stop meaning anything. So the test first takes its
/// `weight` in ``TestLoad/shared``'s slots; `.ownThread(alone: true)` takes all of them, for
/// tests that load the machine on purpose (the soak, the socket fuzz).
public struct OwnThread: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }
    let alone: Bool

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        let load = TestLoad.shared
        let weight = alone ? load.capacity : 1
        await load.acquire(weight)
        defer { load.release(weight) }
        let executor = ThreadTaskExecutor(name: "tf-test")
        defer { executor.shutdown() }
        // An unstructured task with the preference, awaited at once: in this toolchain a
        // withTaskExecutorPreference closure does not leave the calling thread.
        try await withoutActuallyEscaping(function) { body in
            try await Task(executorPreference: executor) { try await body() }.value
        }
    }
}

extension Trait where Self == OwnThread {
    /// One slot of the machine, on a thread of its own.
    public static var ownThread: OwnThread { OwnThread(alone: false) }

    /// Every slot: nothing else that takes a slot runs beside it.
    public static func ownThread(alone: Bool) -> OwnThread { OwnThread(alone: alone) }
}
