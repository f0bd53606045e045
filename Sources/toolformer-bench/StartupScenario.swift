#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import ToolformerProtocol
import ToolformerTesting

/// `startup`: from `posix_spawn` of the daemon to `READY=1` on a real `NOTIFY_SOCKET`, and to the
/// first answered `ping`, over several starts of the built binary with the benchmark's configuration;
/// and, since it is there, from SIGTERM to exit when idle (what `systemctl stop` waits for).
enum StartupScenario {
    static func run(_ context: BenchContext, binary: String) throws -> ScenarioOutcome {
        var outcome = ScenarioOutcome(name: "startup")
        let starts = context.quick ? 2 : max(5, context.runs)
        var readies: [Double] = []
        var pings: [Double] = []
        var stops: [Double] = []
        for _ in 0..<starts {
            let times = try start(binary: binary)
            readies.append(times.ready)
            pings.append(times.ping)
            stops.append(times.stop)
        }
        let ready = median(readies)
        let ping = median(pings)
        let stop = median(stops)
        outcome.metrics["readyMs"] = ready
        outcome.metrics["pingMs"] = ping
        outcome.metrics["stopMs"] = stop
        outcome.json = [
            "starts": .int(Int64(starts)),
            "readyMs": .double(ready.roundedTo(2)), "firstPingMs": .double(ping.roundedTo(2)),
            "minReadyMs": .double((readies.min() ?? 0).roundedTo(2)), "maxReadyMs": .double((readies.max() ?? 0).roundedTo(2)),
            "runReadyMs": .array(readies.map { .double($0.roundedTo(2)) }),
            "runFirstPingMs": .array(pings.map { .double($0.roundedTo(2)) }),
            "idleStopMs": .double(stop.roundedTo(2)), "runIdleStopMs": .array(stops.map { .double($0.roundedTo(2)) }),
        ]
        var table = TextTable(["starts", "exec->READY=1 ms (median)", "min", "max", "exec->first ping ms", "SIGTERM->exit ms (idle)"])
        table.add([
            "\(starts)", Format.fixed(ready, 1), Format.fixed(readies.min() ?? 0, 1), Format.fixed(readies.max() ?? 0, 1),
            Format.fixed(ping, 1), Format.fixed(stop, 1),
        ])
        outcome.table = table.text
        return outcome
    }

    /// One start: milliseconds to READY=1 and to the first ping, then from SIGTERM to exit.
    static func start(binary: String) throws -> (ready: Double, ping: Double, stop: Double) {
        var template = Array("/tmp/toolformer-start-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchIOError.system("mkdtemp") }
        let directory = String(cString: made)
        defer { _ = try? TestDaemon.run(["/bin/rm", "-rf", directory]) }
        try TestDaemon.writeFile(directory + "/toolformerd.toml", BenchConfig.text)
        let socketPath = directory + "/toolformerd.sock"
        let listener = try NotifyListener()
        defer { listener.close() }

        let spawned = monotonicNanos()
        let pid = try TestDaemon.spawn(
            [binary, "--config", directory + "/toolformerd.toml", "--socket", socketPath, "--log", "stderr"],
            environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": directory, "NOTIFY_SOCKET": listener.path],
            output: directory + "/daemon.log")
        ChildProcesses.add(pid)
        var exited = false
        defer {
            if !exited {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            ChildProcesses.remove(pid)
        }
        let readyStamp = ReadyStamp()
        let waiter = BenchThread {
            if (try? listener.waitFor("READY=1", timeout: .seconds(20))) != nil { readyStamp.set(monotonicNanos()) }
        }
        // Meanwhile: connect and ping until answered, a millisecond apart.
        var pinged: UInt64 = 0
        let deadline = spawned + 20_000_000_000
        while monotonicNanos() < deadline {
            if let socket = try? LineSocket(path: socketPath, receiveTimeout: 5),
                let response = try? socket.call("ping", [:]), response["result"] != nil
            {
                pinged = monotonicNanos()
                break
            }
            sleep(seconds: 0.001)
        }
        waiter.join()
        let ready = readyStamp.value
        guard ready != 0, pinged != 0 else {
            let log = (try? TestDaemon.readFile(directory + "/daemon.log")) ?? ""
            throw BenchIOError("startup: the daemon sent no READY=1 or answered no ping within 20 s; log:\n\(log)")
        }
        let terminated = monotonicNanos()
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while monotonicNanos() - terminated < 10_000_000_000 {
            if waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                break
            }
            sleep(seconds: 0.0005)
        }
        guard exited else { throw BenchIOError("startup: the idle daemon did not exit within 10 s of SIGTERM") }
        let stopped = monotonicNanos()
        return (Double(ready - spawned) / 1e6, Double(pinged - spawned) / 1e6, Double(stopped - terminated) / 1e6)
    }

    final class ReadyStamp: Sendable {
        private let stamp = Atomic<UInt64>(0)
        func set(_ value: UInt64) { stamp.store(value, ordering: .releasing) }
        var value: UInt64 { stamp.load(ordering: .acquiring) }
    }
}
