#if canImport(Glibc)
import Glibc
#endif
public import ToolformerProtocol

/// Why a client operation failed below the protocol.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    case cannotConnect(path: String, errno: Int32)
    case io(operation: String, errno: Int32)
    case closed
    case timedOut
    case badMessage(String)

    public var description: String {
        switch self {
        case .cannotConnect(let path, let code): "cannot connect to \(path): \(String(cString: strerror(code)))"
        case .io(let operation, let code): "\(operation) failed: \(String(cString: strerror(code)))"
        case .closed: "the daemon closed the connection"
        case .timedOut: "timed out waiting for the daemon"
        case .badMessage(let why): "the daemon sent a message that is not valid: \(why)"
        }
    }
}

/// A blocking connection to toolformerd over its Unix socket, for one thread at a time.
///
/// Thin on purpose: it writes request lines and reads message lines. ``call(_:_:timeout:)`` is the
/// simple path (send, then read until that id's response, keeping any event notifications).
public final class ToolformerConnection {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    private var nextID: Int64 = 1
    private let parser = JSONParser(maxDepth: 512)

    public init(path: String) throws(ClientError) {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io(operation: "socket", errno: errno) }
        guard let result = withUnixSocketAddress(path, { connect(fd, $0, $1) }) else {
            Glibc.close(fd)
            throw .cannotConnect(path: path, errno: ENAMETOOLONG)
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .cannotConnect(path: path, errno: code)
        }
        self.fd = fd
        buffer.reserveCapacity(64 * 1024)
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public var fileDescriptor: Int32 { fd }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Half-closes: the daemon sees end of input but can still answer.
    public func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    /// Writes raw bytes (a test may send anything, broken lines included).
    public func send(_ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "send", errno: errno)
            }
            offset += written
        }
    }

    public func send(_ text: String) throws(ClientError) { try send(Array(text.utf8)) }

    /// Allocates the next integer id.
    public func makeID() -> RequestID {
        defer { nextID += 1 }
        return .int(nextID)
    }

    /// Sends a request and returns its id.
    @discardableResult
    public func sendRequest(_ method: String, _ params: JSONObject = [:], id: RequestID? = nil) throws(ClientError) -> RequestID {
        let id = id ?? makeID()
        try send(MessageEncoder.request(id: id, method: method, params: params))
        return id
    }

    public func sendNotification(_ method: String, _ params: JSONObject = [:]) throws(ClientError) {
        try send(MessageEncoder.notification(method: method, params: params))
    }

    /// Reads one line (without its newline); nil at end of stream.
    public func readLine(timeout: Duration? = nil) throws(ClientError) -> [UInt8]? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let newline = buffer[bufferStart...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[bufferStart..<newline])
                bufferStart = newline + 1
                if bufferStart == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    bufferStart = 0
                }
                return line
            }
            if bufferStart > 0 {
                buffer.removeFirst(bufferStart)
                bufferStart = 0
            }
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                if remaining <= .zero { throw .timedOut }
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ms = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
                let ready = poll(&pfd, 1, ms)
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw .io(operation: "poll", errno: errno)
                }
                if ready == 0 { throw .timedOut }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed }
                throw .io(operation: "recv", errno: errno)
            }
            if count == 0 {
                if buffer.isEmpty { return nil }
                let rest = buffer
                buffer.removeAll()
                return rest
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// Reads and parses one message; throws ``ClientError/closed`` at end of stream.
    public func readMessage(timeout: Duration? = nil) throws(ClientError) -> JSONObject {
        guard let line = try readLine(timeout: timeout) else { throw .closed }
        let value: JSONValue
        do { value = try parser.parse(line) } catch { throw .badMessage(error.message) }
        guard case .object(let object) = value else { throw .badMessage("not an object") }
        return object
    }

    /// Sends a request and waits for its response. Event notifications and other ids' responses that
    /// arrive first are handed to `onOther`.
    public func call(
        _ method: String, _ params: JSONObject = [:], timeout: Duration? = .seconds(60),
        onOther: (JSONObject) -> Void = { _ in }
    ) throws(CallError) -> JSONValue {
        let id: RequestID
        do {
            id = try sendRequest(method, params)
        } catch {
            // A daemon that refused the connection wrote why and closed before our write landed:
            // its line is still readable, and says more than EPIPE.
            if let refusal = try? readMessage(timeout: .milliseconds(200)), refusal["error"] != nil {
                throw CallError.rpc(Self.error(from: refusal["error"]!))
            }
            throw .client(error)
        }
        while true {
            let message: JSONObject
            do { message = try readMessage(timeout: timeout) } catch { throw .client(error) }
            guard let responseID = message["id"].flatMap(RequestID.init), responseID == id else {
                // An error with a null id is about the connection or our line (refused, unparsable).
                if message["id"] == .null, message["error"] != nil { return try Self.unwrap(message) }
                onOther(message)
                continue
            }
            return try Self.unwrap(message)
        }
    }

    static func error(from object: JSONValue) -> ToolformerError {
        ToolformerError(
            code: object["code"]?.intValue ?? -32603, message: object["message"]?.stringValue ?? "", data: object["data"])
    }

    /// The `result` of a response, or its error.
    public static func unwrap(_ response: JSONObject) throws(CallError) -> JSONValue {
        if let error = response["error"] { throw .rpc(Self.error(from: error)) }
        guard let result = response["result"] else { throw .client(.badMessage("a response with neither result nor error")) }
        return result
    }
}

/// A failed call: the transport failed, or the daemon answered with an error.
public enum CallError: Error, Sendable, CustomStringConvertible {
    case client(ClientError)
    case rpc(ToolformerError)

    public var description: String {
        switch self {
        case .client(let error): error.description
        case .rpc(let error): error.description
        }
    }
}
