#if canImport(Glibc)
import Glibc
#endif
import ToolformerTesting

/// The C line echo (`toolformer-echo-reference`) on a temporary socket.
final class EchoReference {
    let socketPath: String
    private let directory: String
    private let pid: pid_t

    init(binary: String) throws {
        guard access(binary, X_OK) == 0 else {
            throw BenchIOError("no echo reference at \(binary); build it: swift build -c release --product toolformer-echo-reference")
        }
        var template = Array("/tmp/toolformer-echo-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchIOError.system("mkdtemp") }
        directory = String(cString: made)
        socketPath = directory + "/echo.sock"
        pid = try TestDaemon.spawn([binary, socketPath], environment: [:], output: directory + "/echo.log")
        ChildProcesses.add(pid)
        for _ in 0..<2000 {
            if (try? LineSocket(path: socketPath)) != nil { return }
            sleep(seconds: 0.001)
        }
        throw BenchIOError("the echo reference did not listen within 2 s")
    }

    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        ChildProcesses.remove(pid)
        unlink(socketPath)
        unlink(directory + "/echo.log")
        rmdir(directory)
    }
}
