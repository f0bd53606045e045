import CZlib

/// zlib (deflate) through the system's libz: values of `compress_min_bytes` or more are stored
/// compressed, transparently.
public enum Compression {
    /// Compresses at zlib's default level; nil when that would not save anything.
    public static func deflate(_ input: [UInt8]) -> [UInt8]? {
        var bound = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(bound))
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                compress2(destination.baseAddress, &bound, source.baseAddress, uLong(input.count), Z_DEFAULT_COMPRESSION)
            }
        }
        guard status == Z_OK, Int(bound) < input.count else { return nil }
        output.removeSubrange(Int(bound)...)
        return output
    }

    /// Decompresses to exactly `size` bytes; nil when the data is not that (corruption).
    public static func inflate(_ input: [UInt8], size: Int) -> [UInt8]? {
        guard size >= 0 else { return nil }
        var length = uLong(size)
        var output = [UInt8](repeating: 0, count: max(size, 1))
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                uncompress(destination.baseAddress, &length, source.baseAddress, uLong(input.count))
            }
        }
        guard status == Z_OK, Int(length) == size else { return nil }
        if size == 0 { return [] }
        return output
    }

    /// CRC-32 (zlib's), for tiers that must detect corruption.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
    }
}
