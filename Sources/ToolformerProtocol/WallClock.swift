#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in Unix milliseconds: what outlives the process (cache expiries on disk and in
/// Redis) and what people read (request start times, a provider's last error). Intervals use
/// a monotonic clock instead (the core's `ToolformerClock`).
public enum WallClock {
    public static let unixMilliseconds: @Sendable () -> Int64 = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
