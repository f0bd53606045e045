// Linux only, like the daemon: `st_mtim` and the `Glibc.` spellings below.
import Glibc

/// The few file calls the disk tier makes, straight to libc: errors come back as `errno` values,
/// never thrown, because every caller turns them into a miss or a log line, not a failure.
enum PosixFile {
    /// What `stat` says about an entry, as much as the tier uses.
    struct Status {
        var isRegular: Bool
        var isDirectory: Bool
        var size: Int
        /// Nanoseconds since the epoch, for ordering only.
        var modified: Int64
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// `lstat`, so that a link inside the tree is reported as itself and never followed out of
    /// it; `stat` with `followLinks` (the cache directory itself may be a link: `DynamicUser=`
    /// makes `/var/cache/NAME` one into `/var/cache/private`).
    static func status(_ path: String, followLinks: Bool = false) -> Result<Status, Errno> {
        var info = stat()
        let result = followLinks ? stat(path, &info) : lstat(path, &info)
        guard result == 0 else { return .failure(Errno(errno)) }
        return .success(Status(info))
    }

    /// The whole of a regular file, up to `limit` bytes. A file that shrinks while it is read is
    /// returned short; the format's length checks catch it.
    static func readAll(_ path: String, limit: Int) -> Result<[UInt8], Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(Errno(errno)) }
        let status = Status(info)
        guard status.isRegular else { return .failure(Errno(EINVAL)) }
        guard status.size <= limit else { return .failure(Errno(EFBIG)) }
        var bytes = [UInt8](repeating: 0, count: status.size)
        let count = bytes.withUnsafeMutableBytes { readFully(fd, into: $0, at: 0) }
        switch count {
        case .failure(let error): return .failure(error)
        case .success(let count):
            if count < bytes.count { bytes.removeSubrange(count...) }
            return .success(bytes)
        }
    }

    /// The first bytes of an open file, as many as it has up to `count`.
    static func readPrefix(_ fd: Int32, count: Int, at offset: Int = 0) -> Result<[UInt8], Errno> {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { readFully(fd, into: $0, at: offset) }
        return read.map { Array(bytes.prefix($0)) }
    }

    /// Creates `path` (which must not exist) holding `bytes`, mode 0600.
    static func create(_ path: String, _ bytes: [UInt8]) -> Errno? {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return Errno(errno) }
        var failure: Errno? = bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return Errno(errno)
                }
                written += result
            }
            return nil
        }
        if close(fd) != 0, failure == nil { failure = Errno(errno) }
        return failure
    }

    static func rename(_ from: String, _ to: String) -> Errno? {
        Glibc.rename(from, to) == 0 ? nil : Errno(errno)
    }

    /// Unlinks `path`; nil when it is gone (including when it was already gone).
    @discardableResult
    static func unlink(_ path: String) -> Errno? {
        if Glibc.unlink(path) == 0 || errno == ENOENT { return nil }
        return Errno(errno)
    }

    /// Makes one directory; nil when it exists afterwards, whoever made it.
    static func makeDirectory(_ path: String, mode: mode_t) -> Errno? {
        if mkdir(path, mode) == 0 { return nil }
        let error = errno
        if error == EEXIST, case .success(let existing) = status(path, followLinks: true), existing.isDirectory {
            return nil
        }
        return Errno(error)
    }

    /// The names in a directory, without "." and "..".
    static func list(_ path: String) -> Result<[String], Errno> {
        guard let directory = opendir(path) else { return .failure(Errno(errno)) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    String(cString: $0)
                }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return .success(names)
    }

    static func openForReading(_ path: String) -> Result<(fd: Int32, status: Status), Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            return .failure(Errno(error))
        }
        return .success((fd, Status(info)))
    }

    static func closeFile(_ fd: Int32) { close(fd) }

    private static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Result<
        Int, Errno
    > {
        var done = 0
        while done < buffer.count {
            let result = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if result < 0 {
                if errno == EINTR { continue }
                return .failure(Errno(errno))
            }
            if result == 0 { break }
            done += result
        }
        return .success(done)
    }

    /// An `errno` value that can travel in a `Result`.
    struct Errno: Error, Equatable, CustomStringConvertible {
        var code: Int32
        init(_ code: Int32) { self.code = code }
        var description: String { PosixFile.errorText(code) }
    }
}

extension PosixFile.Status {
    init(_ info: stat) {
        let kind = info.st_mode & S_IFMT
        isRegular = kind == S_IFREG
        isDirectory = kind == S_IFDIR
        size = Int(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}
