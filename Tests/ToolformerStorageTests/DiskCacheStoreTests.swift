import Foundation
import Testing
import ToolformerCore
import ToolformerProtocol

@testable import ToolformerStorage

@Suite("DiskCacheStore")
struct DiskCacheStoreTests {
    @Test("put then get returns the same value, compressed flag and size included")
    func roundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            let plainKey = testKey(1)
            let plain = testValue(#"{"answer":42}"#, expiresAtUnixMs: 5_000)
            let text = Array(String(repeating: "compressible ", count: 200).utf8)
            let deflated = try #require(Compression.deflate(text))
            let packedKey = testKey(2)
            let packed = StoredValue(bytes: deflated, compressed: true, size: text.count, expiresAtUnixMs: 6_000)

            await store.put(plainKey, plain)
            await store.put(packedKey, packed)

            #expect(await store.get(plainKey, nowUnixMs: 1_000) == plain)
            let back = try #require(await store.get(packedKey, nowUnixMs: 1_000))
            #expect(back == packed)
            #expect(back.compressed && back.size == text.count)
            #expect(Compression.inflate(back.bytes, size: back.size) == text)
            #expect(await store.get(testKey(3), nowUnixMs: 1_000) == nil)

            // The file is where the format says, and starts with the magic.
            let file = try readBytes(store.path(for: plainKey.hash))
            #expect(Array(file.prefix(4)) == Array("TFC1".utf8))
            #expect(file.count == fileSize(plainKey, plain))
            let name = DiskCacheStore.hex(plainKey.hash)
            #expect(name.count == 16)
            #expect(store.path(for: plainKey.hash) == "\(directory)/\(name.prefix(2))/\(name)")

            #expect(store.counter("entries") == 2)
            // Charged in whole blocks: two small files take two blocks.
            #expect(store.counter("bytes") == 2 * 4096)
            #expect(store.counter("bytes") == entrySize(plainKey, plain) + entrySize(packedKey, packed))
            #expect(store.counter("hits") == 2)
            #expect(store.counter("misses") == 1)
            #expect(store.counter("writes") == 2)
            #expect(store.status()["directory"] == .string(directory))
            #expect(store.counter("maxBytes") == 1 << 20)
        }
    }

    @Test("a put replaces the previous value of the same key")
    func overwrite() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            let key = testKey(1)
            await store.put(key, testValue("first"))
            await store.put(key, testValue("second, longer"))
            #expect(await store.get(key, nowUnixMs: 0) == testValue("second, longer"))
            #expect(store.counter("entries") == 1)
            #expect(store.counter("bytes") == entrySize(key, testValue("second, longer")))
            #expect(filesOnDisk(directory).count == 1)
        }
    }

    @Test("a value survives a new store on the same directory")
    func survivesRestart() async throws {
        try await withTemporaryDirectory { directory in
            let key = testKey(7)
            let value = testValue("warm result", expiresAtUnixMs: 10_000)
            do {
                let first = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
                await first.put(key, value)
                await first.put(testKey("llm:mock", 1), testValue("other"))
            }
            let second = try DiskCacheStore(
                directory: directory, maxBytes: 1 << 20, logger: quietLogger, nowUnixMs: { 1_000 })
            #expect(second.counter("entries") == 2)
            #expect(second.counter("bytes") == entrySize(key, value) + entrySize(testKey("llm:mock", 1), testValue("other")))
            #expect(await second.get(key, nowUnixMs: 1_000) == value)
            // The namespace came back from the file too.
            #expect(await second.remove(namespace: "llm:mock") == 1)
        }
    }

    @Test("expired values are not served and their file is removed")
    func expiry() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            let key = testKey(1)
            await store.put(key, testValue("soon stale", expiresAtUnixMs: 10_000))
            #expect(await store.get(key, nowUnixMs: 9_999) != nil)
            #expect(await store.get(key, nowUnixMs: 10_000) == nil)
            #expect(!FileManager.default.fileExists(atPath: store.path(for: key.hash)))
            #expect(store.counter("expired") == 1)
            #expect(store.counter("entries") == 0)
            #expect(store.counter("bytes") == 0)
            #expect(store.counter("corrupted") == 0)
        }
    }

    @Test("entries already expired are removed at start")
    func expiredAtStart() async throws {
        try await withTemporaryDirectory { directory in
            let stale = testKey(1)
            let fresh = testKey(2)
            do {
                let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
                await store.put(stale, testValue("stale", expiresAtUnixMs: 5_000))
                await store.put(fresh, testValue("fresh", expiresAtUnixMs: 50_000))
            }
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger, nowUnixMs: { 6_000 })
            #expect(store.counter("entries") == 1)
            #expect(!FileManager.default.fileExists(atPath: store.path(for: stale.hash)))
            #expect(await store.get(fresh, nowUnixMs: 6_000) == testValue("fresh", expiresAtUnixMs: 50_000))
        }
    }

    enum Damage: String, CaseIterable, CustomStringConvertible {
        case flipPayloadByte, flipExpiryByte, truncate, garbageHeader, empty, otherKey
        var description: String { rawValue }
    }

    @Test("a damaged file is a miss, counted, logged by name, deleted, never served", arguments: Damage.allCases)
    func corruption(_ damage: Damage) async throws {
        try await withTemporaryDirectory { directory in
            let logs = CapturedLogs()
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: logs.logger)
            let key = testKey(1)
            let other = testKey(2)
            let secret = "SECRET-PAYLOAD-\(damage)"
            await store.put(key, testValue(secret))
            await store.put(other, testValue("the other key's value"))
            let path = store.path(for: key.hash)
            var file = try readBytes(path)
            switch damage {
            case .flipPayloadByte: file[file.count - 3] ^= 0x01
            case .flipExpiryByte: file[9] ^= 0x80
            case .truncate: file.removeLast(5)
            case .garbageHeader:
                for index in 0..<DiskCacheFormat.headerSize { file[index] = UInt8(truncatingIfNeeded: index &* 37) }
            case .empty: file = []
            case .otherKey: file = try readBytes(store.path(for: other.hash))
            }
            try writeBytes(path, file)

            #expect(await store.get(key, nowUnixMs: 0) == nil)
            #expect(store.counter("corrupted") == 1)
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(store.counter("entries") == 1)
            #expect(store.counter("bytes") == entrySize(other, testValue("the other key's value")))
            // Once removed it stays a plain miss, and the other key is untouched.
            #expect(await store.get(key, nowUnixMs: 0) == nil)
            #expect(store.counter("corrupted") == 1)
            #expect(await store.get(other, nowUnixMs: 0) == testValue("the other key's value"))

            let warnings = logs.all.filter { $0.hasPrefix("warning") }
            #expect(warnings.count == 1)
            #expect(warnings.first?.contains(DiskCacheStore.relativePath(for: key.hash)) == true)
            #expect(!logs.all.contains { $0.contains("SECRET") || $0.contains("other key's value") })

            // The key can be written again afterwards.
            await store.put(key, testValue("rewritten"))
            #expect(await store.get(key, nowUnixMs: 0) == testValue("rewritten"))
        }
    }

    @Test("a damaged file found at start is removed, not indexed", arguments: [Damage.truncate, .garbageHeader, .otherKey])
    func corruptionAtStart(_ damage: Damage) async throws {
        try await withTemporaryDirectory { directory in
            let key = testKey(1)
            let other = testKey(2)
            let path: String
            do {
                let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
                await store.put(key, testValue("value one"))
                await store.put(other, testValue("value two"))
                path = store.path(for: key.hash)
            }
            var file = try readBytes(path)
            switch damage {
            case .truncate: file.removeLast(1)
            case .garbageHeader: file[0] = UInt8(ascii: "X")
            default: file = try readBytes(DiskCacheStore.relativePath(for: other.hash).withDirectory(directory))
            }
            try writeBytes(path, file)
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            #expect(store.counter("entries") == 1)
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(await store.get(key, nowUnixMs: 0) == nil)
            #expect(await store.get(other, nowUnixMs: 0) == testValue("value two"))
        }
    }

    @Test("the byte budget evicts the least recently used entry first")
    func leastRecentlyUsedEviction() async throws {
        try await withTemporaryDirectory { directory in
            // Every entry is the same size, an eighth of the budget (the largest a put accepts):
            // eight fit exactly, the ninth needs room.
            let keys = (0..<9).map { testKey("tool:echo", $0) }
            let value = testValue(String(repeating: "v", count: 100))
            let size = entrySize(keys[0], value)
            let store = try DiskCacheStore(directory: directory, maxBytes: size * 8, logger: quietLogger)
            for key in keys.prefix(8) { await store.put(key, value) }
            #expect(store.counter("entries") == 8)
            #expect(store.counter("evictions") == 0)

            #expect(await store.get(keys[0], nowUnixMs: 0) != nil)  // A is used again: B is now the oldest
            await store.put(keys[8], value)

            #expect(store.counter("evictions") == 1)
            #expect(store.counter("entries") == 8)
            #expect(store.counter("bytes") == size * 8)
            #expect(!FileManager.default.fileExists(atPath: store.path(for: keys[1].hash)))
            #expect(await store.get(keys[1], nowUnixMs: 0) == nil)
            for key in keys where key != keys[1] {
                #expect(await store.get(key, nowUnixMs: 0) == value)
            }
            #expect(filesOnDisk(directory).count == 8)
        }
    }

    @Test("a value bigger than an eighth of the budget is not stored")
    func oversizedSkipped() async throws {
        try await withTemporaryDirectory { directory in
            // An eighth of the budget is one block.
            let store = try DiskCacheStore(directory: directory, maxBytes: 8 * 4096, logger: quietLogger)
            let fits = testValue(String(repeating: "x", count: 4096 - fileSize(testKey(1), testValue(""))))
            let tooBig = testValue(String(repeating: "x", count: 4097 - fileSize(testKey(2), testValue(""))))
            await store.put(testKey(1), fits)
            await store.put(testKey(2), tooBig)
            #expect(await store.get(testKey(1), nowUnixMs: 0) == fits)
            #expect(await store.get(testKey(2), nowUnixMs: 0) == nil)
            #expect(store.counter("entries") == 1)
            #expect(store.counter("skipped") == 1)
            #expect(filesOnDisk(directory).count == 1)
        }
    }

    @Test("at start, recency follows the files' mtimes, and a smaller budget trims the oldest")
    func recencyFromModificationTimes() async throws {
        try await withTemporaryDirectory { directory in
            let keys = (0..<4).map { testKey("tool:echo", $0) }
            let value = testValue(String(repeating: "m", count: 50))
            do {
                let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
                for key in keys { await store.put(key, value) }
            }
            // Oldest to newest: 2, 0, 3, 1.
            for (rank, index) in [2, 0, 3, 1].enumerated() {
                let date = Date(timeIntervalSince1970: 1_700_000_000 + Double(rank) * 60)
                try FileManager.default.setAttributes(
                    [.modificationDate: date],
                    ofItemAtPath: DiskCacheStore.relativePath(for: keys[index].hash).withDirectory(directory))
            }
            let reopened = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            #expect(reopened.recencyOrder == [2, 0, 3, 1].map { keys[$0].hash })

            let size = entrySize(keys[0], value)
            let smaller = try DiskCacheStore(directory: directory, maxBytes: size * 2, logger: quietLogger)
            #expect(smaller.recencyOrder == [3, 1].map { keys[$0].hash })
            #expect(smaller.counter("evictions") == 2)
            #expect(filesOnDisk(directory).count == 2)
        }
    }

    @Test("remove(namespace:) removes only that namespace and counts; nil removes all")
    func removeByNamespace() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            let a = (0..<3).map { testKey("tool:a", $0) }
            let ab = (0..<2).map { testKey("tool:ab", $0) }
            let b = [testKey("tool:b", 0)]
            for key in a + ab + b { await store.put(key, testValue("v\(key.hash)")) }

            #expect(await store.remove(namespace: "tool:a") == 3)
            for key in a { #expect(await store.get(key, nowUnixMs: 0) == nil) }
            for key in ab + b { #expect(await store.get(key, nowUnixMs: 0) != nil) }
            #expect(filesOnDisk(directory).count == 3)
            #expect(await store.remove(namespace: "tool:a") == 0)
            #expect(await store.remove(namespace: "tool:nothing") == 0)

            // The same after a restart: the namespaces come from the files.
            let reopened = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            #expect(await reopened.remove(namespace: "tool:ab") == 2)
            #expect(await reopened.remove(namespace: nil) == 1)
            #expect(reopened.counter("entries") == 0)
            #expect(reopened.counter("bytes") == 0)
            #expect(filesOnDisk(directory).isEmpty)
            #expect(await reopened.get(b[0], nowUnixMs: 0) == nil)
        }
    }

    @Test("temporary and foreign files are cleaned at start; the top level is left alone")
    func startupCleanup() async throws {
        try await withTemporaryDirectory { directory in
            let key = testKey(1)
            do {
                let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
                await store.put(key, testValue("keep me"))
            }
            let fanOut = DiskCacheStore.fanOut(key.hash)
            let leftovers = [
                "\(fanOut)/.\(DiskCacheStore.hex(key.hash)).4242.7.tmp",  // a crashed write
                "ab/.abcdef0123456789.1.1.tmp",
                "ab/stray.txt",
                "ab/ABCDEF0123456789",  // not our spelling
                "cd/ab00000000000000",  // in the wrong subdirectory
            ]
            for name in leftovers { try writeBytes("\(directory)/\(name)", Array("junk".utf8)) }
            try writeBytes("\(directory)/.CACHEDIR.TAG.99.tmp", [])
            try writeBytes("\(directory)/notes.txt", Array("someone's file".utf8))
            try FileManager.default.createDirectory(atPath: "\(directory)/ef/a-directory", withIntermediateDirectories: true)

            let logs = CapturedLogs()
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: logs.logger)
            let files = filesOnDisk(directory)
            for name in leftovers { #expect(files[name] == nil, "\(name) should be gone") }
            #expect(files[DiskCacheStore.relativePath(for: key.hash)] != nil)
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/.CACHEDIR.TAG.99.tmp"))
            #expect(FileManager.default.fileExists(atPath: "\(directory)/notes.txt"))
            #expect(FileManager.default.fileExists(atPath: "\(directory)/CACHEDIR.TAG"))
            #expect(store.counter("entries") == 1)
            #expect(await store.get(key, nowUnixMs: 0) == testValue("keep me"))
            #expect(logs.all.contains { $0.contains("cache.removed_temporary\": 3") })
        }
    }

    @Test("the directory is created with mode 0700, parents included")
    func createsDirectory() async throws {
        try await withTemporaryDirectory { base in
            let directory = "\(base)/deeper/cache/"
            let store = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            #expect(store.directory == "\(base)/deeper/cache")
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(base)/deeper/cache")
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
            #expect(FileManager.default.fileExists(atPath: "\(base)/deeper/cache/ff"))
            await store.put(testKey(1), testValue("x"))
            #expect(await store.get(testKey(1), nowUnixMs: 0) == testValue("x"))
        }
    }

    @Test("a directory that cannot be created is a clear error")
    func unusableDirectory() async throws {
        try await withTemporaryDirectory { base in
            try writeBytes("\(base)/file", [])
            #expect {
                _ = try DiskCacheStore(directory: "\(base)/file", maxBytes: 1 << 20, logger: quietLogger)
            } throws: { error in
                (error as? DiskCacheError)?.code == .notADirectory
                    && "\(error)".contains("\(base)/file") && "\(error)".contains("not a directory")
            }
            #expect {
                _ = try DiskCacheStore(directory: "\(base)/file/cache", maxBytes: 1 << 20, logger: quietLogger)
            } throws: { error in
                (error as? DiskCacheError)?.code == .cannotCreateDirectory && "\(error)".contains("\(base)/file/cache")
            }
        }
    }

    @Test("a directory that cannot be written is a clear error", .enabled(if: getuid() != 0, "root writes anywhere"))
    func readOnlyDirectory() async throws {
        try await withTemporaryDirectory { base in
            let directory = "\(base)/readonly"
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o500])
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory) }
            #expect {
                _ = try DiskCacheStore(directory: directory, maxBytes: 1 << 20, logger: quietLogger)
            } throws: { error in
                (error as? DiskCacheError)?.code == .notWritable
            }
        }
    }

    @Test("concurrent puts and gets from many tasks stay consistent", .timeLimit(.minutes(1)))
    func concurrency() async throws {
        try await withTemporaryDirectory { directory in
            let keys = (0..<48).map { testKey("tool:c\($0 % 3)", $0) }
            func payload(_ index: Int, _ version: Int) -> StoredValue {
                testValue("key=\(index);version=\(version);" + String(repeating: "p", count: 60 + index))
            }
            // Twenty entries fit: puts keep evicting while others read.
            let maxBytes = entrySize(keys[47], payload(47, 999)) * 20
            let store = try DiskCacheStore(directory: directory, maxBytes: maxBytes, logger: quietLogger)
            let wrong = await withTaskGroup(of: Int.self) { group in
                for task in 0..<16 {
                    group.addTask {
                        var generator = SystemRandomNumberGenerator()
                        var wrong = 0
                        for step in 0..<300 {
                            let index = Int.random(in: 0..<keys.count, using: &generator)
                            if Bool.random(using: &generator) {
                                await store.put(keys[index], payload(index, task * 1000 + step))
                            } else if let value = await store.get(keys[index], nowUnixMs: 0) {
                                let text = String(decoding: value.bytes, as: UTF8.self)
                                if !text.hasPrefix("key=\(index);") || value.size != value.bytes.count { wrong += 1 }
                            }
                            if step % 100 == 99, task == 0 { _ = await store.remove(namespace: "tool:c1") }
                        }
                        return wrong
                    }
                }
                return await group.reduce(0, +)
            }
            #expect(wrong == 0)
            #expect(store.counter("corrupted") == 0)
            #expect(store.counter("writeErrors") == 0)
            let files = filesOnDisk(directory)
            #expect(!files.keys.contains { $0.hasSuffix(".tmp") })
            #expect(store.counter("entries") == files.count)
            #expect(store.counter("bytes") == files.values.reduce(0) { $0 + ($1 + 4095) / 4096 * 4096 })
            #expect(store.counter("bytes") <= maxBytes)
            #expect(store.counter("evictions") > 0)

            let reopened = try DiskCacheStore(directory: directory, maxBytes: maxBytes, logger: quietLogger)
            #expect(reopened.counter("entries") == files.count)
            #expect(reopened.counter("bytes") == store.counter("bytes"))
        }
    }
}

@Suite("DiskCacheIndex")
struct DiskCacheIndexTests {
    @Test("recency order, touches, replacement and removal")
    func recency() {
        var index = DiskCacheIndex()
        index.insert(1, namespace: "a", size: 10)
        index.insert(2, namespace: "b", size: 20)
        index.insert(3, namespace: "a", size: 30)
        #expect(index.hashesOldestFirst == [1, 2, 3])
        #expect(index.bytes == 60)
        index.touch(1)
        #expect(index.hashesOldestFirst == [2, 3, 1])
        index.insert(2, namespace: "b", size: 5)
        #expect(index.hashesOldestFirst == [3, 1, 2])
        #expect(index.bytes == 45)
        #expect(index.removeOldest()?.hash == 3)
        #expect(index.removeAll { $0 == "a" } == [1])
        #expect(index.hashesOldestFirst == [2])
        #expect(index.touch(9) == false)
        index.remove(2)
        #expect(index.count == 0 && index.bytes == 0 && index.hashesOldestFirst.isEmpty)
        #expect(index.removeOldest() == nil)
    }
}

@Suite("DiskCacheFormat")
struct DiskCacheFormatTests {
    @Test("encode then decode, and the header's fields")
    func encodeDecode() throws {
        let key = testKey(1)
        let value = StoredValue(bytes: [1, 2, 3], compressed: true, size: 99, expiresAtUnixMs: -5)
        let file = try #require(DiskCacheFormat.encode(key: key, value: value))
        let header = try DiskCacheFormat.header(file, fileSize: file.count)
        #expect(header.compressed && header.size == 99 && header.expiresAtUnixMs == -5)
        #expect(header.keyLength == key.text.utf8.count && header.payloadLength == 3)
        let decoded = try DiskCacheFormat.decode(file, hash: key.hash, keyText: key.text).get()
        #expect(decoded?.0 == value)
        #expect(DiskCacheFormat.namespace(ofKey: Array(key.text.utf8)) == "tool:echo")
        var wrongVersion = file
        wrongVersion[4] = 2
        #expect(throws: DiskCacheFormat.Defect.unsupportedVersion(2)) {
            try DiskCacheFormat.header(wrongVersion, fileSize: file.count)
        }
    }
}

extension String {
    func withDirectory(_ directory: String) -> String { "\(directory)/\(self)" }
}
