import Foundation
import Logging
import Synchronization
import ToolformerCore
import ToolformerProtocol
import ToolformerTesting

@testable import ToolformerStorage

/// The shared in-memory logs (ToolformerTesting), under the name these tests use.
typealias CapturedLogs = RecordingLogs

let quietLogger = RecordingLogs.quiet

/// Runs `body` with a fresh directory under the system's temporary one, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array((NSTemporaryDirectory() + "/toolformer-disk-XXXXXX").utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let made = mkdtemp(buffer.baseAddress!) else { return nil }
        return String(cString: made)
    }
    guard let path else { throw POSIXError(.EIO) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

func testKey(_ number: Int) -> CacheKey { testKey("tool:echo", number) }

func testKey(_ namespace: String, _ number: Int) -> CacheKey {
    CacheKey(namespace: namespace, fingerprint: "fp1", request: .object(["n": .int(Int64(number))]))
}

func testValue(_ text: String, expiresAtUnixMs: Int64 = .max) -> StoredValue {
    let bytes = Array(text.utf8)
    return StoredValue(bytes: bytes, compressed: false, size: bytes.count, expiresAtUnixMs: expiresAtUnixMs)
}

/// The size of an entry's file.
func fileSize(_ key: CacheKey, _ value: StoredValue) -> Int {
    DiskCacheFormat.headerSize + key.text.utf8.count + value.bytes.count
}

/// What an entry costs the byte budget: its file in whole 4 KiB blocks.
func entrySize(_ key: CacheKey, _ value: StoredValue) -> Int {
    (fileSize(key, value) + 4095) / 4096 * 4096
}

extension DiskCacheStore {
    func counter(_ name: String) -> Int { Int(status()[name]?.intValue ?? -1) }
}

/// Every file below the 256 subdirectories, relative to `directory`, with its size.
func filesOnDisk(_ directory: String) -> [String: Int] {
    var result: [String: Int] = [:]
    let manager = FileManager.default
    for sub in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] {
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: "\(directory)/\(sub)", isDirectory: &isDirectory), isDirectory.boolValue else {
            continue
        }
        for name in (try? manager.contentsOfDirectory(atPath: "\(directory)/\(sub)")) ?? [] {
            let attributes = try? manager.attributesOfItem(atPath: "\(directory)/\(sub)/\(name)")
            result["\(sub)/\(name)"] = (attributes?[.size] as? NSNumber)?.intValue ?? -1
        }
    }
    return result
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
