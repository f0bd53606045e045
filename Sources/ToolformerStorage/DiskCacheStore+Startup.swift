import Logging
import ToolformerCore
import Glibc

/// Opening the directory: create it, prove it writable, and index what a previous run left.
extension DiskCacheStore {
    struct ScanResult {
        var index = DiskCacheIndex()
        var removedTemporary = 0
        var removedForeign = 0
        var removedCorrupted = 0
        var removedExpired = 0
        /// Entries the scan would not delete: subdirectories, and anything at the top level that is
        /// not the tier's (a misconfigured `cache.dir` must not cost someone their files).
        var leftAlone = 0
    }

    private static let tagName = "CACHEDIR.TAG"
    /// The Cache Directory Tagging Specification's tag, so that backup tools skip the directory.
    private static let tagContents = Array(
        """
        Signature: 8a477f597d28d172789f06886806bc55
        # This file is a cache directory tag created by toolformerd.
        # For information about cache directory tags see https://bford.info/cachedir/

        """.utf8)

    /// Creates the directory and its 256 subdirectories, and proves that a file can be created.
    static func prepare(_ directory: String, pid: Int32) throws(DiskCacheError) {
        try makeDirectories(directory, mode: 0o700)
        let probe = "\(directory)/.probe.\(pid).tmp"
        PosixFile.unlink(probe)
        if let error = PosixFile.create(probe, []) {
            throw DiskCacheError(.notWritable, path: directory, reason: error.description)
        }
        PosixFile.unlink(probe)
        for byte in 0..<256 {
            let subdirectory = "\(directory)/\(hex(UInt64(byte), digits: 2))"
            if let error = PosixFile.makeDirectory(subdirectory, mode: 0o700) {
                throw DiskCacheError(.cannotCreateDirectory, path: subdirectory, reason: error.description)
            }
        }
        let tag = "\(directory)/\(tagName)"
        if case .failure = PosixFile.status(tag) {
            let temporary = "\(directory)/.\(tagName).\(pid).tmp"
            if PosixFile.create(temporary, tagContents) != nil || PosixFile.rename(temporary, tag) != nil {
                PosixFile.unlink(temporary)  // only a courtesy to backup tools: not worth failing for
            }
        }
    }

    /// `mkdir -p`: missing parents get the usual 0755 (less the umask), the directory `mode`.
    private static func makeDirectories(_ path: String, mode: mode_t) throws(DiskCacheError) {
        switch PosixFile.status(path, followLinks: true) {
        case .success(let status):
            guard status.isDirectory else { throw DiskCacheError(.notADirectory, path: path, reason: "") }
            return
        case .failure(let error) where error.code == ENOENT:
            if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                try makeDirectories(String(path[..<slash]), mode: 0o755)
            }
            if let error = PosixFile.makeDirectory(path, mode: mode) {
                throw DiskCacheError(.cannotCreateDirectory, path: path, reason: error.description)
            }
        case .failure(let error):
            throw DiskCacheError(.cannotCreateDirectory, path: path, reason: error.description)
        }
    }

    /// Reads every entry's header and key (not its payload: the CRC is checked when it is read),
    /// removes what cannot be used, and returns the index ordered by mtime, oldest first.
    static func scan(_ directory: String, nowUnixMs: Int64, logger: Logger) -> ScanResult {
        var result = ScanResult()
        var found: [(hash: UInt64, namespace: String, size: Int, modified: Int64)] = []
        for byte in 0..<256 {
            let name = hex(UInt64(byte), digits: 2)
            let subdirectory = "\(directory)/\(name)"
            guard case .success(let names) = PosixFile.list(subdirectory) else { continue }
            for file in names {
                let path = "\(subdirectory)/\(file)"
                guard let hash = entryHash(file), hash >> 56 == UInt64(byte) else {
                    if PosixFile.unlink(path) != nil {
                        result.leftAlone += 1
                    } else if file.hasPrefix("."), file.hasSuffix(".tmp") {
                        result.removedTemporary += 1
                    } else {
                        result.removedForeign += 1
                    }
                    continue
                }
                switch inspect(path, hash: hash, nowUnixMs: nowUnixMs) {
                case .entry(let namespace, let size, let modified):
                    found.append((hash, namespace, size, modified))
                case .gone:
                    break
                case .expired:
                    PosixFile.unlink(path)
                    result.removedExpired += 1
                case .notAFile:
                    // A link is removed (never followed); a directory by that name is left.
                    if PosixFile.unlink(path) == nil { result.removedForeign += 1 } else { result.leftAlone += 1 }
                case .defect(let defect):
                    PosixFile.unlink(path)
                    result.removedCorrupted += 1
                    logger.debug(
                        "disk cache: damaged entry removed at start",
                        metadata: ["cache.file": "\(name)/\(file)", "cache.reason": "\(defect)"])
                }
            }
        }
        // Only the tier's own temporary files go at the top level.
        if case .success(let names) = PosixFile.list(directory) {
            for name in names where !isSubdirectoryName(name) && name != tagName {
                if name.hasPrefix("."), name.hasSuffix(".tmp"), PosixFile.unlink("\(directory)/\(name)") == nil {
                    result.removedTemporary += 1
                } else {
                    result.leftAlone += 1
                }
            }
        }
        found.sort { $0.modified < $1.modified }
        for entry in found { result.index.insert(entry.hash, namespace: entry.namespace, size: entry.size) }
        return result
    }

    private enum Inspection {
        case entry(namespace: String, size: Int, modified: Int64)
        case gone
        case expired
        case notAFile
        case defect(DiskCacheFormat.Defect)
    }

    private static func inspect(_ path: String, hash: UInt64, nowUnixMs: Int64) -> Inspection {
        let opened: (fd: Int32, status: PosixFile.Status)
        switch PosixFile.openForReading(path) {
        case .success(let value): opened = value
        case .failure(let error) where error.code == ENOENT: return .gone
        case .failure(let error) where error.code == ELOOP: return .notAFile
        case .failure(let error): return .defect(.unreadable(error.code))
        }
        defer { PosixFile.closeFile(opened.fd) }
        guard opened.status.isRegular else { return .notAFile }
        let header: DiskCacheFormat.Header
        do {
            let head = try PosixFile.readPrefix(opened.fd, count: DiskCacheFormat.headerSize).get()
            header = try DiskCacheFormat.header(head, fileSize: opened.status.size)
        } catch let defect as DiskCacheFormat.Defect {
            return .defect(defect)
        } catch let error as PosixFile.Errno {
            return .defect(.unreadable(error.code))
        } catch {
            return .defect(.unreadable(EIO))
        }
        guard header.expiresAtUnixMs > nowUnixMs else { return .expired }
        let key: [UInt8]
        switch PosixFile.readPrefix(opened.fd, count: header.keyLength, at: DiskCacheFormat.headerSize) {
        case .success(let bytes): key = bytes
        case .failure(let error): return .defect(.unreadable(error.code))
        }
        guard key.count == header.keyLength else { return .defect(.lengthMismatch) }
        guard Fingerprint.fnv1a64(key) == hash else { return .defect(.misplacedKey) }
        return .entry(
            namespace: DiskCacheFormat.namespace(ofKey: key),
            size: DiskCacheFormat.diskUsage(ofFileSize: opened.status.size), modified: opened.status.modified)
    }

    /// The hash an entry's file name spells: exactly 16 lowercase hex digits.
    static func entryHash(_ name: String) -> UInt64? {
        let digits = name.utf8
        guard digits.count == 16, digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        return UInt64(name, radix: 16)
    }

    private static func isSubdirectoryName(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
