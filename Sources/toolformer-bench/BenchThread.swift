#if canImport(Glibc)
import Glibc
#endif

/// An OS thread running one closure, joined by ``join()``.
///
/// The load generator wants one real thread per connection with a blocking socket, never a task on
/// a cooperative pool: a thread blocked in `recv` is exactly what a simple client of the daemon is.
struct BenchThread {
    private let handle: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread.
    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        self.handle = handle
    }

    func join() { pthread_join(handle, nil) }
}

/// CLOCK_MONOTONIC in nanoseconds: a vDSO call, cheap enough to take twice per round trip.
@inline(__always)
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Sleeps for `seconds` (fractions allowed).
func sleep(seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
