import TOMLKit

/// One TOML table being read. It remembers every key looked up, so that whatever is left over is
/// refused as unknown, and the list of keys looked up doubles as the list of valid keys.
///
/// Errors built here quote numbers and key names but never string values: strings are where
/// URLs with passwords, header values and pasted API keys live.
struct ConfigTable {
    let file: String
    let path: [String]
    private let table: TOMLTable
    private var lookedUp: [String] = []

    init(_ table: TOMLTable, path: [String], file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    /// Keys in byte order, so that which error comes first does not depend on the TOML library.
    var keys: [String] {
        self.table.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    func contains(_ key: String) -> Bool {
        self.table[key] != nil
    }

    /// The TOML type of `key`, without marking it read.
    func type(of key: String) -> TOMLType? {
        self.table[key]?.type
    }

    /// The full dotted path of `key` in this table, or of the table itself.
    func keyPath(_ key: String? = nil) -> String {
        ConfigKeyPath.join(key.map { self.path + [$0] } ?? self.path)
    }

    func error(_ code: ConfigError.Code, _ key: String?, _ reason: String) -> ConfigError {
        ConfigError(code, file: self.file, key: self.keyPath(key), reason: reason)
    }

    private mutating func value(_ key: String) -> (any TOMLValueConvertible)? {
        if !self.lookedUp.contains(key) {
            self.lookedUp.append(key)
        }
        return self.table[key]
    }

    /// Marks `key` as known without reading it, for keys another step reads.
    mutating func allow(_ key: String) {
        _ = self.value(key)
    }

    // MARK: Scalars

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = self.value(key) else { return nil }
        guard let string = value.string else { throw self.wrongType(key, expected: .string, got: value.type) }
        return string
    }

    mutating func int(_ key: String, _ range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = self.value(key) else { return nil }
        guard let int = value.int else { throw self.wrongType(key, expected: .int, got: value.type) }
        guard range.contains(int) else { throw self.error(.outOfRange, key, Self.rangeReason(range, got: "\(int)")) }
        return int
    }

    /// A float; an integer is taken too, since `local_share = 1` means 1.0 to anyone writing it.
    mutating func double(_ key: String, _ range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let value = self.value(key) else { return nil }
        let double: Double
        if let d = value.double {
            double = d
        } else if let i = value.int {
            double = Double(i)
        } else {
            throw self.wrongType(key, expected: .double, got: value.type)
        }
        guard double.isFinite, range.contains(double) else {
            throw self.error(.outOfRange, key, Self.rangeReason(range, got: "\(double)"))
        }
        return double
    }

    mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = self.value(key) else { return nil }
        guard let bool = value.bool else { throw self.wrongType(key, expected: .bool, got: value.type) }
        return bool
    }

    // MARK: Containers

    mutating func stringArray(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = self.value(key) else { return nil }
        guard let array = value.array else { throw self.wrongType(key, expected: .array, got: value.type) }
        var strings: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                throw self.error(.wrongType, key + "[\(index)]", Self.typeReason(expected: .string, got: element.type))
            }
            strings.append(string)
        }
        return strings
    }

    mutating func intArray(_ key: String, _ range: ClosedRange<Int>) throws(ConfigError) -> [Int]? {
        guard let value = self.value(key) else { return nil }
        guard let array = value.array else { throw self.wrongType(key, expected: .array, got: value.type) }
        var ints: [Int] = []
        for (index, element) in array.enumerated() {
            guard let int = element.int else {
                throw self.error(.wrongType, key + "[\(index)]", Self.typeReason(expected: .int, got: element.type))
            }
            guard range.contains(int) else {
                throw self.error(.outOfRange, key + "[\(index)]", Self.rangeReason(range, got: "\(int)"))
            }
            ints.append(int)
        }
        return ints
    }

    /// A table of strings (`env`, `headers`). `checkKey` returns why a key is refused, or nil;
    /// `checkValue` likewise, and its reason must not quote the value.
    mutating func stringTable(
        _ key: String,
        checkKey: (String) -> String? = { _ in nil },
        checkValue: (String) -> String? = { _ in nil }
    ) throws(ConfigError) -> [String: String]? {
        guard var inner = try self.table(key) else { return nil }
        var result: [String: String] = [:]
        for name in inner.keys {
            if let reason = checkKey(name) {
                throw inner.error(.invalidValue, name, reason)
            }
            guard let value = try inner.string(name) else { continue }
            if let reason = checkValue(value) {
                throw inner.error(.invalidValue, name, reason)
            }
            result[name] = value
        }
        return result
    }

    /// A sub-table, written either as `[a.b]` or inline as `b = { ... }`.
    mutating func table(_ key: String) throws(ConfigError) -> ConfigTable? {
        guard let value = self.value(key) else { return nil }
        guard let table = value.table else { throw self.wrongType(key, expected: .table, got: value.type) }
        return ConfigTable(table, path: self.path + [key], file: self.file)
    }

    // MARK: Unknown keys

    /// Refuses any key that was never looked up. `explain` may give a better reason for a key
    /// that is valid elsewhere (an exec key on an http tool); otherwise the reason lists the keys
    /// this table takes.
    func rejectUnknownKeys(explain: (String) -> String? = { _ in nil }) throws(ConfigError) {
        for key in self.keys where !self.lookedUp.contains(key) {
            if let reason = explain(key) {
                throw self.error(.unknownKey, key, reason)
            }
            let known = self.lookedUp.sorted().joined(separator: ", ")
            throw self.error(.unknownKey, key, known.isEmpty ? "unknown key" : "unknown key; this table takes \(known)")
        }
    }

    // MARK: Reasons

    private func wrongType(_ key: String, expected: TOMLType, got: TOMLType) -> ConfigError {
        self.error(.wrongType, key, Self.typeReason(expected: expected, got: got))
    }

    static func typeReason(expected: TOMLType, got: TOMLType) -> String {
        "expected \(Self.name(of: expected)), got \(Self.name(of: got))"
    }

    static func name(of type: TOMLType) -> String {
        switch type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }

    static func rangeReason(_ range: ClosedRange<Int>, got: String) -> String {
        if range.upperBound == Int.max {
            return range.lowerBound == 0 ? "must not be negative, got \(got)" : "must be at least \(range.lowerBound), got \(got)"
        }
        return "must be between \(range.lowerBound) and \(range.upperBound), got \(got)"
    }

    static func rangeReason(_ range: ClosedRange<Double>, got: String) -> String {
        if range.upperBound == .greatestFiniteMagnitude {
            return "must be at least \(range.lowerBound), got \(got)"
        }
        return "must be between \(range.lowerBound) and \(range.upperBound), got \(got)"
    }
}

/// Dotted key paths as a reader would type them: bare segments where TOML allows bare keys,
/// quoted ones elsewhere (`tools."my tool".kind`).
enum ConfigKeyPath {
    static func join(_ segments: [String]) -> String {
        segments.map(Self.quoteIfNeeded).joined(separator: ".")
    }

    static func quoteIfNeeded(_ segment: String) -> String {
        // An array index arrives glued to its key (`argv[0]`) and is kept readable as is.
        let base = segment.firstIndex(of: "[").map { segment[..<$0] } ?? segment[...]
        let suffix = segment[base.endIndex...]
        let isIndex = suffix.isEmpty || suffix.dropFirst().dropLast().allSatisfy(\.isNumber) && suffix.last == "]"
        if !base.isEmpty, isIndex, base.utf8.allSatisfy(Self.isBareKeyByte) {
            return segment
        }
        var quoted = "\""
        for character in segment {
            switch character {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            default: quoted.append(character)
            }
        }
        return quoted + "\""
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
