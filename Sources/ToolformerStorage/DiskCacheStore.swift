public import Logging
public import ToolformerCore
public import ToolformerProtocol
import Synchronization
import Glibc

/// The optional on-disk cache tier (`cache.dir`, the unit's `CacheDirectory=`), so that warm
/// results survive a daemon restart.
///
/// One file per entry, `DIR/ab/ab0123456789cdef`: the key's 64-bit hash in hex, fanned out into
/// 256 subdirectories by its first byte, in the format `DiskCacheFormat` describes (header with a
/// CRC, key text, payload). A file is written to a unique temporary name beside its final one and
/// renamed over it, so a reader sees the old entry or the new one, never half of either.
///
/// An in-memory index (hash → namespace, size, recency) is built at start from the files' headers
/// and kept as the tier works; it answers misses, `remove(namespace:)` and the byte budget without
/// touching the disk, and orders eviction (least recently used first; at start, by mtime). The
/// budget counts each file in whole 4 KiB blocks, the space it really takes.
///
/// Locking: the index sits behind one `Mutex`, held only for bookkeeping. File work on a hash is
/// done under that hash's stripe lock (one of 64), which the index lock nests inside, so the file
/// and the index entry of a hash always change together; hashes on other stripes proceed in
/// parallel. Entries are small and local, so reads and writes run on the caller's thread.
public final class DiskCacheStore: CacheStore {
    /// The wall clock in Unix milliseconds; at start, entries already expired by it are removed.
    public static let wallClockMs = WallClock.unixMilliseconds

    struct State {
        var index = DiskCacheIndex()
        var hits = 0
        var misses = 0
        var writes = 0
        var evictions = 0
        var corrupted = 0
        var expired = 0
        var skipped = 0
        var writeErrors = 0
    }

    /// Serialises the file work on the hashes that share it.
    private final class Stripe: Sendable {
        let lock = Mutex(())
    }

    private static let stripeCount = 64

    /// The cache directory as given, without trailing slashes.
    public let directory: String
    public let maxBytes: Int
    private let logger: Logger
    private let state: Mutex<State>
    private let stripes: [Stripe]
    private let pid = getpid()
    private let temporaryCounter = Atomic<UInt64>(0)

    /// Opens the tier in `directory`, creating it (mode 0700) if it is missing, and indexes what a
    /// previous run left there. Files of a crashed write, files that are not entries, entries that
    /// are damaged or expired by `nowUnixMs`, and the oldest entries past `maxBytes` are removed.
    ///
    /// Throws `DiskCacheError` when the directory cannot be created or written.
    public init(
        directory: String, maxBytes: Int, logger: Logger,
        nowUnixMs: @escaping @Sendable () -> Int64 = DiskCacheStore.wallClockMs
    ) throws {
        var trimmed = directory
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.directory = trimmed
        self.maxBytes = maxBytes
        self.logger = logger
        self.stripes = (0..<Self.stripeCount).map { _ in Stripe() }

        try Self.prepare(trimmed, pid: getpid())
        let scan = Self.scan(trimmed, nowUnixMs: nowUnixMs(), logger: logger)
        var initial = State()
        initial.index = scan.index
        var trim: [UInt64] = []
        while initial.index.bytes > maxBytes, let (hash, _) = initial.index.removeOldest() { trim.append(hash) }
        initial.evictions = trim.count
        state = Mutex(initial)
        for hash in trim { PosixFile.unlink(path(for: hash)) }

        logger.info(
            "disk cache opened",
            metadata: [
                "cache.dir": "\(trimmed)", "cache.entries": "\(initial.index.count)",
                "cache.bytes": "\(initial.index.bytes)", "cache.max_bytes": "\(maxBytes)",
                "cache.removed_temporary": "\(scan.removedTemporary)",
                "cache.removed_foreign": "\(scan.removedForeign)",
                "cache.removed_corrupted": "\(scan.removedCorrupted)",
                "cache.removed_expired": "\(scan.removedExpired)",
                "cache.trimmed": "\(trim.count)",
            ])
        if scan.removedCorrupted > 0 {
            logger.warning(
                "disk cache: removed damaged entries at start",
                metadata: ["cache.removed_corrupted": "\(scan.removedCorrupted)"])
        }
        if scan.leftAlone > 0 {
            logger.notice(
                "disk cache: entries that are not the cache's were left alone",
                metadata: ["cache.dir": "\(trimmed)", "cache.unknown_entries": "\(scan.leftAlone)"])
        }
    }

    // MARK: - CacheStore

    public func get(_ key: CacheKey, nowUnixMs: Int64) async -> StoredValue? {
        let hash = key.hash
        // The index knows every file there is: a miss costs no system call, and does not wait for
        // a write on the same stripe.
        func known() -> Bool {
            state.withLock { state in
                if state.index.contains(hash) { return true }
                state.misses += 1
                return false
            }
        }
        guard known() else { return nil }
        let outcome: ReadOutcome = stripe(hash).lock.withLock { _ in
            // Evicted or removed while this waited for the stripe.
            guard known() else { return .absent }
            var outcome = read(key)
            switch outcome {
            case .hit(let value) where value.expiresAtUnixMs <= nowUnixMs:
                outcome = .expired
                PosixFile.unlink(path(for: hash))
            case .defect:
                PosixFile.unlink(path(for: hash))
            default:
                break
            }
            state.withLock { state in
                switch outcome {
                case .hit:
                    state.index.touch(hash)
                    state.hits += 1
                case .absent:
                    // Deleted behind the tier's back.
                    state.index.remove(hash)
                    state.misses += 1
                case .expired:
                    state.index.remove(hash)
                    state.expired += 1
                    state.misses += 1
                case .collision:
                    // Another key's valid entry; the next put of this key replaces it.
                    state.misses += 1
                case .defect:
                    state.index.remove(hash)
                    state.corrupted += 1
                    state.misses += 1
                }
            }
            return outcome
        }
        switch outcome {
        case .hit(let value):
            return value
        case .defect(let defect):
            logger.warning(
                "disk cache: corrupted entry removed",
                metadata: ["cache.file": "\(Self.relativePath(for: hash))", "cache.reason": "\(defect)"])
            return nil
        default:
            return nil
        }
    }

    public func put(_ key: CacheKey, _ value: StoredValue) async {
        // A value that big would push out an eighth of the tier at once.
        guard let file = DiskCacheFormat.encode(key: key, value: value),
            DiskCacheFormat.diskUsage(ofFileSize: file.count) <= maxBytes / 8
        else {
            state.withLock { $0.skipped += 1 }
            return
        }
        let hash = key.hash
        let result: Result<[UInt64], PosixFile.Errno> = stripe(hash).lock.withLock { _ in
            if let error = write(file, hash: hash) {
                return .failure(error)
            }
            return .success(
                state.withLock { state in
                    let usage = DiskCacheFormat.diskUsage(ofFileSize: file.count)
                    state.index.insert(hash, namespace: key.namespace, size: usage)
                    state.writes += 1
                    var victims: [UInt64] = []
                    while state.index.bytes > maxBytes, let (victim, _) = state.index.removeOldest() {
                        victims.append(victim)
                    }
                    state.evictions += victims.count
                    return victims
                })
        }
        switch result {
        case .success(let victims):
            // Outside this hash's stripe: a victim may share it.
            for victim in victims { deleteUnindexed(victim) }
        case .failure(let error):
            let failures = state.withLock { state in
                state.writeErrors += 1
                return state.writeErrors
            }
            // A full disk fails every write: log the 1st, 2nd, 4th, 8th... failure, not each one.
            if failures & (failures - 1) == 0 {
                logger.warning(
                    "disk cache: cannot write an entry",
                    metadata: [
                        "cache.file": "\(Self.relativePath(for: hash))", "cache.reason": "\(error)",
                        "cache.write_errors": "\(failures)",
                    ])
            }
        }
    }

    public func remove(namespace: String?) async -> Int {
        let doomed: [UInt64] = state.withLock { state in
            guard let namespace else {
                let all = Array(state.index.entries.keys)
                state.index = DiskCacheIndex()
                return all
            }
            return state.index.removeAll { $0 == namespace }
        }
        for hash in doomed { deleteUnindexed(hash) }
        return doomed.count
    }

    public func statusSections() -> JSONObject { ["disk": .object(status())] }

    public func status() -> JSONObject {
        state.withLock { state in
            [
                "entries": .int(Int64(state.index.count)), "bytes": .int(Int64(state.index.bytes)),
                "maxBytes": .int(Int64(maxBytes)), "hits": .int(Int64(state.hits)), "misses": .int(Int64(state.misses)),
                "writes": .int(Int64(state.writes)), "evictions": .int(Int64(state.evictions)),
                "corrupted": .int(Int64(state.corrupted)), "expired": .int(Int64(state.expired)),
                "skipped": .int(Int64(state.skipped)), "writeErrors": .int(Int64(state.writeErrors)),
                "directory": .string(directory),
            ]
        }
    }

    // MARK: - Files

    private enum ReadOutcome {
        case hit(StoredValue)
        case absent
        case expired
        case collision
        case defect(DiskCacheFormat.Defect)
    }

    /// Reads and checks the entry for `key`; called under its stripe lock.
    private func read(_ key: CacheKey) -> ReadOutcome {
        // No valid entry is bigger than the whole budget.
        switch PosixFile.readAll(path(for: key.hash), limit: max(maxBytes, DiskCacheFormat.headerSize)) {
        case .failure(let error) where error.code == ENOENT:
            return .absent
        case .failure(let error):
            return .defect(.unreadable(error.code))
        case .success(let file):
            switch DiskCacheFormat.decode(file, hash: key.hash, keyText: key.text) {
            case .success(.some((let value, _))): return .hit(value)
            case .success(.none): return .collision
            case .failure(let defect): return .defect(defect)
            }
        }
    }

    /// Writes `file` as the entry for `hash`: a unique temporary name (pid and counter, so two
    /// writers of one key never share one) renamed over the final name. No fsync: a cache may
    /// lose entries on power loss, and whatever a crash leaves behind (an old entry, an empty or
    /// torn file, a stray temporary) is caught by the CRC and length checks or the start-up scan.
    private func write(_ file: [UInt8], hash: UInt64) -> PosixFile.Errno? {
        let final = path(for: hash)
        let counter = temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let temporary = "\(directory)/\(Self.fanOut(hash))/.\(Self.hex(hash)).\(pid).\(counter).tmp"
        var error = PosixFile.create(temporary, file)
        if error?.code == ENOENT {
            // Its subdirectory was removed behind the tier's back.
            _ = PosixFile.makeDirectory("\(directory)/\(Self.fanOut(hash))", mode: 0o700)
            error = PosixFile.create(temporary, file)
        }
        if error == nil { error = PosixFile.rename(temporary, final) }
        if error != nil { PosixFile.unlink(temporary) }
        return error
    }

    /// Deletes the file of a hash that has left the index, unless a put has written it again since.
    private func deleteUnindexed(_ hash: UInt64) {
        stripe(hash).lock.withLock { _ in
            guard !state.withLock({ $0.index.contains(hash) }) else { return }
            PosixFile.unlink(path(for: hash))
        }
    }

    private func stripe(_ hash: UInt64) -> Stripe { stripes[Int(hash % UInt64(Self.stripeCount))] }

    func path(for hash: UInt64) -> String { "\(directory)/\(Self.relativePath(for: hash))" }

    static func relativePath(for hash: UInt64) -> String { "\(fanOut(hash))/\(hex(hash))" }

    /// The subdirectory of a hash: its first byte, two hex digits.
    static func fanOut(_ hash: UInt64) -> String { hex(hash >> 56, digits: 2) }

    static func hex(_ value: UInt64, digits: Int = 16) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// For tests: the index's hashes from least to most recently used.
    var recencyOrder: [UInt64] { state.withLock { $0.index.hashesOldestFirst } }
}
