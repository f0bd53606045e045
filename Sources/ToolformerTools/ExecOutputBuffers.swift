/// A child's stdout, kept whole up to a limit; past it the bytes are dropped and the run is failed,
/// so a runaway tool costs at most `limit` plus one pipe read of memory.
struct ExecOutputBuffer: Sendable {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var overflowed = false

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Returns false once the total has passed `limit`; nothing more is kept after that.
    mutating func append(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard !overflowed else { return false }
        guard bytes.count + chunk.count <= limit else {
            overflowed = true
            return false
        }
        bytes.append(contentsOf: chunk)
        return true
    }
}

/// The last `capacity` bytes of a child's stderr: the end is where a failing program says why.
struct ExecOutputTail: Sendable {
    let capacity: Int
    private var bytes: [UInt8] = []
    private var dropped = false

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if chunk.count > capacity {
            dropped = true
            bytes.removeAll(keepingCapacity: true)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk.suffix(capacity)))
            return
        }
        bytes.append(contentsOf: chunk)
        // Trim in batches so a chatty child does not cost a memmove per read.
        if bytes.count > 2 * capacity {
            bytes.removeFirst(bytes.count - capacity)
            dropped = true
        }
    }

    /// The tail as text, trimmed; "…" marks that earlier output was cut.
    var text: String {
        var tail = bytes.suffix(capacity)
        let cut = dropped || bytes.count > capacity
        if cut {
            // Start on a character boundary rather than show a replacement character.
            while let first = tail.first, first & 0xC0 == 0x80 { tail = tail.dropFirst() }
        }
        let decoded = Self.trimmed(String(decoding: tail, as: UTF8.self))
        return cut && !decoded.isEmpty ? "…" + decoded : decoded
    }

    static func trimmed(_ text: String) -> String {
        guard let start = text.firstIndex(where: { !$0.isWhitespace }),
            let end = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[start...end])
    }
}
