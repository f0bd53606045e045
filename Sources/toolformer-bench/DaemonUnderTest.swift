#if canImport(Glibc)
import Glibc
#endif
import ToolformerProtocol
import ToolformerTesting

/// The daemon under test: one the benchmark started from the built binary with its own
/// configuration (``BenchConfig``), or one already running at `--socket`.
final class DaemonUnderTest {
    let socketPath: String
    /// Known for a daemon we started; read from `daemon/status` for one at `--socket`.
    let pid: pid_t?
    let started: TestDaemon?

    /// Starts the built `toolformerd` on a temporary socket and waits for its first `ping`.
    init(config: String) throws {
        let daemon = try TestDaemon(config: config)
        ChildProcesses.add(daemon.pid)
        started = daemon
        socketPath = daemon.socketPath
        pid = daemon.pid
    }

    init(socket: String) throws {
        started = nil
        socketPath = socket
        let connection = try LineSocket(path: socket, receiveTimeout: 10)
        let status = try connection.call("daemon/status", [:])
        pid = status["result"]?["pid"]?.intValue.map { pid_t($0) }
    }

    func connect() throws(BenchIOError) -> LineSocket { try LineSocket(path: socketPath) }

    var memory: ProcessMemory? { pid.flatMap { ProcessMemory.read(pid: $0) } }

    func stop() {
        guard let started else { return }
        _ = try? started.stop(timeout: .seconds(10))
        ChildProcesses.remove(started.pid)
    }

    deinit { stop() }
}
