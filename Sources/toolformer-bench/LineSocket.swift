#if canImport(Glibc)
import Glibc
#endif
import ToolformerProtocol

/// Why the load generator's socket failed.
struct BenchIOError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }

    static func system(_ operation: String, _ code: Int32 = errno) -> BenchIOError {
        BenchIOError("\(operation): \(String(cString: strerror(code)))")
    }
}

/// A blocking Unix-socket client that reads lines without copying them: the load generator's hot
/// path, cheaper than `ToolformerConnection` (no per-read allocation, no rescanning the buffer,
/// no JSON parsing).
///
/// A line returned by ``nextLine()`` or ``bufferedLine()`` points into the socket's own buffer and
/// is valid until the next read. One thread at a time.
final class LineSocket {
    let fd: Int32
    private var storage: UnsafeMutableRawBufferPointer
    /// Unread bytes are `head..<tail`; `scanned` is where the search for the next newline resumes.
    private var head = 0
    private var tail = 0
    private var scanned = 0

    /// Connects; reads give up after `receiveTimeout` seconds of silence.
    init(path: String, receiveTimeout: Int = 60) throws(BenchIOError) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket") }
        guard let result = withUnixSocketAddress(path, { connect(fd, $0, $1) }) else {
            Glibc.close(fd)
            throw BenchIOError("socket path too long: \(path)")
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system("connect \(path)", code)
        }
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        storage = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit {
        Glibc.close(fd)
        storage.deallocate()
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws(BenchIOError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("send")
            }
            offset += written
        }
    }

    func send(_ bytes: [UInt8]) throws(BenchIOError) {
        try bytes.withUnsafeBytes { raw in Result { () throws(BenchIOError) in try send(raw) } }.get()
    }

    /// The next complete line already received (without its newline), or nil.
    @inline(__always)
    func bufferedLine() -> UnsafeRawBufferPointer? {
        guard scanned < tail else { return nil }
        let base = storage.baseAddress!
        guard let found = memchr(base + scanned, 0x0A, tail - scanned) else {
            scanned = tail
            return nil
        }
        let newline = base.distance(to: found)
        let line = UnsafeRawBufferPointer(start: base + head, count: newline - head)
        head = newline + 1
        scanned = head
        return line
    }

    /// Blocks until a whole line has arrived.
    func nextLine() throws(BenchIOError) -> UnsafeRawBufferPointer {
        while true {
            if let line = bufferedLine() { return line }
            try fill()
        }
    }

    /// One `recv` into the buffer (compacting or growing it first when it is full).
    func fill() throws(BenchIOError) {
        if head == tail {
            head = 0
            tail = 0
            scanned = 0
        } else if tail == storage.count {
            if head > 0 {
                let base = storage.baseAddress!
                memmove(base, base + head, tail - head)
                tail -= head
                scanned -= head
                head = 0
            } else {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: storage.count * 2, alignment: 16)
                bigger.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[0..<tail]))
                storage.deallocate()
                storage = bigger
            }
        }
        while true {
            let count = recv(fd, storage.baseAddress! + tail, storage.count - tail, 0)
            if count > 0 {
                tail += count
                return
            }
            if count == 0 { throw BenchIOError("the server closed the connection") }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw BenchIOError("no answer within the receive timeout") }
            throw .system("recv")
        }
    }

    /// Sends a request and returns its response, parsed: for set-up and checks, off the hot path.
    func call(_ method: String, _ params: JSONObject, id: Int64 = 1) throws(BenchIOError) -> JSONObject {
        try send(MessageEncoder.request(id: .int(id), method: method, params: params))
        while true {
            let line = try nextLine()
            guard let message = Self.parse(line) else { throw BenchIOError("unparsable response: \(Self.text(line))") }
            if message["id"] == .int(id) { return message }
        }
    }

    /// Off the hot path only: a parser costs a json-c tokener (and a stack per depth level) each.
    static func parse(_ line: UnsafeRawBufferPointer) -> JSONObject? {
        let parser = JSONParser(maxDepth: 64)
        return (try? parser.parse(line))?.objectValue
    }

    static func text(_ line: UnsafeRawBufferPointer, limit: Int = 300) -> String {
        String(decoding: line.prefix(limit), as: UTF8.self)
    }
}
