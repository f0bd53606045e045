import CZlib
import ToolformerCore

/// One cache entry as a file: a fixed 36-byte header, the key text (UTF-8), the payload.
///
/// ```
/// offset size
///      0    4  magic "TFC1"
///      4    2  format version (1)
///      6    2  flags: bit 0 = payload is zlib-compressed; other bits must be 0
///      8    8  expiresAtUnixMs (Int64)
///     16    8  uncompressed size of the value (UInt64)
///     24    4  key length in bytes (UInt32)
///     28    4  payload length in bytes (UInt32)
///     32    4  CRC-32 (zlib) of bytes 0..<32, then key, then payload
///     36       key text, then payload; the file ends exactly there
/// ```
/// All integers little-endian. The CRC covers the header fields as well as key and payload, so a
/// flipped bit in the expiry or the size is caught like one in the payload.
enum DiskCacheFormat {
    static let magic: [UInt8] = Array("TFC1".utf8)
    static let version: UInt16 = 1
    static let headerSize = 36
    static let flagCompressed: UInt16 = 1
    static let crcOffset = 32
    /// The allocation unit the byte budget charges in (ext4's, and most filesystems' default).
    static let blockSize = 4096

    /// The disk space a file of `fileSize` bytes takes: whole blocks. Tool results are often a few
    /// hundred bytes, so counting bytes alone would let the directory grow to many times the
    /// budget.
    static func diskUsage(ofFileSize fileSize: Int) -> Int {
        (max(fileSize, 1) + blockSize - 1) / blockSize * blockSize
    }

    /// What the header says, once its structure checks out against the file's size.
    struct Header: Equatable {
        var compressed: Bool
        var expiresAtUnixMs: Int64
        var size: Int
        var keyLength: Int
        var payloadLength: Int
        var crc: UInt32

        var fileSize: Int { DiskCacheFormat.headerSize + keyLength + payloadLength }
    }

    /// Why a file is not a usable entry; said in the warning, never with the file's contents.
    enum Defect: Error, Equatable, CustomStringConvertible {
        case tooShort
        case badMagic
        case unsupportedVersion(UInt16)
        case unknownFlags
        case badSize
        case lengthMismatch
        case checksumMismatch
        case misplacedKey
        case unreadable(Int32)

        var description: String {
            switch self {
            case .tooShort: "shorter than the header"
            case .badMagic: "not a cache entry (bad magic)"
            case .unsupportedVersion(let version): "unsupported format version \(version)"
            case .unknownFlags: "unknown flags"
            case .badSize: "impossible uncompressed size"
            case .lengthMismatch: "lengths disagree with the file size"
            case .checksumMismatch: "CRC mismatch"
            case .misplacedKey: "holds a key of another hash"
            case .unreadable(let error): "unreadable: \(PosixFile.errorText(error))"
            }
        }
    }

    /// The whole file for `key` and `value`; nil when a length does not fit its field.
    static func encode(key: CacheKey, value: StoredValue) -> [UInt8]? {
        let keyBytes = Array(key.text.utf8)
        guard keyBytes.count <= Int(UInt32.max), value.bytes.count <= Int(UInt32.max), value.size >= 0 else {
            return nil
        }
        var file = [UInt8]()
        file.reserveCapacity(headerSize + keyBytes.count + value.bytes.count)
        file += magic
        append(version, to: &file)
        append(value.compressed ? flagCompressed : 0, to: &file)
        append(UInt64(bitPattern: value.expiresAtUnixMs), to: &file)
        append(UInt64(value.size), to: &file)
        append(UInt32(keyBytes.count), to: &file)
        append(UInt32(value.bytes.count), to: &file)
        append(UInt32(0), to: &file)
        file += keyBytes
        file += value.bytes
        let crc = checksum(file)
        file.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: crcOffset, as: UInt32.self) }
        return file
    }

    /// Checks the header's structure against the size of the file it came from; reads no further.
    static func header(_ bytes: some RandomAccessCollection<UInt8>, fileSize: Int) throws(Defect) -> Header {
        guard bytes.count >= headerSize, fileSize >= headerSize else { throw .tooShort }
        let head = Array(bytes.prefix(headerSize))
        guard head[0..<4].elementsEqual(magic) else { throw .badMagic }
        let version: UInt16 = load(head, at: 4)
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let flags: UInt16 = load(head, at: 6)
        guard flags & ~flagCompressed == 0 else { throw .unknownFlags }
        let size: UInt64 = load(head, at: 16)
        guard size <= UInt64(Int32.max) else { throw .badSize }
        let header = Header(
            compressed: flags & flagCompressed != 0,
            expiresAtUnixMs: Int64(bitPattern: load(head, at: 8)),
            size: Int(size),
            keyLength: Int(load(head, at: 24) as UInt32),
            payloadLength: Int(load(head, at: 28) as UInt32),
            crc: load(head, at: crcOffset))
        guard header.fileSize == fileSize else { throw .lengthMismatch }
        // An uncompressed payload is the value itself.
        guard header.compressed || header.size == header.payloadLength else { throw .badSize }
        return header
    }

    /// Decodes a whole file read for `hash`. `.success(nil)` is a valid entry for another key of
    /// the same hash: a genuine collision, a miss but not a defect.
    static func decode(_ file: [UInt8], hash: UInt64, keyText: String) -> Result<(StoredValue, Header)?, Defect> {
        let header: Header
        do { header = try self.header(file, fileSize: file.count) } catch { return .failure(error) }
        guard checksum(file) == header.crc else { return .failure(.checksumMismatch) }
        let keyRange = headerSize..<(headerSize + header.keyLength)
        let storedKey = file[keyRange]
        if !storedKey.elementsEqual(keyText.utf8) {
            // A file copied or renamed into the wrong place is a defect; two keys that really
            // share a hash are not.
            return Fingerprint.fnv1a64(storedKey) == hash ? .success(nil) : .failure(.misplacedKey)
        }
        let value = StoredValue(
            bytes: Array(file[keyRange.upperBound...]), compressed: header.compressed, size: header.size,
            expiresAtUnixMs: header.expiresAtUnixMs)
        return .success((value, header))
    }

    /// The namespace a key text starts with: everything before the first unit separator.
    static func namespace(ofKey keyBytes: some Collection<UInt8>) -> String {
        String(decoding: keyBytes.prefix { $0 != 0x1F }, as: UTF8.self)
    }

    // MARK: - Bytes

    /// CRC-32 of everything but the CRC field itself.
    static func checksum(_ file: [UInt8]) -> UInt32 {
        file.withUnsafeBufferPointer { buffer -> UInt32 in
            guard let base = buffer.baseAddress, buffer.count >= headerSize else { return 0 }
            var crc = CZlib.crc32(0, base, uInt(crcOffset))
            var offset = headerSize
            while offset < buffer.count {
                // zlib takes 32-bit lengths.
                let chunk = min(buffer.count - offset, 1 << 30)
                crc = CZlib.crc32(crc, base + offset, uInt(chunk))
                offset += chunk
            }
            return UInt32(crc)
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private static func load<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
