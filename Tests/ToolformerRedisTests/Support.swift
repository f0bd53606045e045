import Testing
import ToolformerTesting

/// Runs each test on a thread of its own, as the daemon suites do: these tests block while
/// redis-server starts and while redis-cli runs, and must not hold the cooperative pool's few
/// threads that other async tests need.
struct OwnThread: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        let executor = ThreadTaskExecutor(name: "tf-redis-test")
        defer { executor.shutdown() }
        try await withoutActuallyEscaping(function) { body in
            try await Task(executorPreference: executor) { try await body() }.value
        }
    }
}

extension Trait where Self == OwnThread {
    static var ownThread: OwnThread { OwnThread() }
}
