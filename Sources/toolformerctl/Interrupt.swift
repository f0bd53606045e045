#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C as something a read loop can poll: the SIGINT handler only writes a byte to a pipe,
/// and the loop watches the pipe's read end beside the socket.
///
/// Nothing else is safe in a signal handler, and the loop must still send the daemon
/// `notifications/cancelled` before the process exits, so the default action (die at once) is not
/// an option either.
enum Interrupt {
    // Written once, before the handler is installed; the handler only reads it.
    nonisolated(unsafe) private static var writeEnd: Int32 = -1
    nonisolated(unsafe) private static var readEnd: Int32 = -1

    /// Installs the handler (once) and returns the descriptor to poll for readability.
    static func install() -> Int32 {
        if readEnd >= 0 { return readEnd }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return -1 }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        readEnd = fds[0]
        writeEnd = fds[1]
        _ = signal(SIGINT, interruptHandler)
        // A parent may have started us with SIGINT blocked (the mask survives exec; a test
        // runner's threads block nearly everything): Ctrl-C must still reach the handler.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return readEnd
    }

    /// Empties the pipe after a wakeup, so the next poll waits for the next Ctrl-C.
    static func drain() {
        guard readEnd >= 0 else { return }
        var scratch = [UInt8](repeating: 0, count: 64)
        while scratch.withUnsafeMutableBytes({ read(readEnd, $0.baseAddress, $0.count) }) > 0 {}
    }

    fileprivate static func signalled() {
        let saved = errno
        var byte: UInt8 = 1
        // Non-blocking: if the pipe is full a wakeup is already pending.
        _ = write(writeEnd, &byte, 1)
        errno = saved
    }
}

private func interruptHandler(_: Int32) { Interrupt.signalled() }
