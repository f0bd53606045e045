/// A configuration file that cannot be used: which file, which key, and why.
///
/// `description` is `FILE: KEY: REASON`, or `FILE: REASON` when the problem is the file as a whole
/// (unreadable, not TOML). The text never quotes a value that could be secret (URLs, headers,
/// environment, credentials); it names keys, types, and names of things the file declares.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem it is, for code that reacts to some differently (and for tests).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum _Code: Sendable, Hashable {
            case unreadable
            case syntax
            case unknownKey
            case wrongType
            case outOfRange
            case invalidValue
            case missingKey
            case conflictingKeys
            case invalidName
            case duplicateName
            case undeclaredReference
            case notAllowedHere
        }

        private let code: _Code

        private init(_ code: _Code) {
            self.code = code
        }

        /// The file or the `tools.d` folder could not be read, or is not UTF-8 text.
        public static let unreadable = Code(.unreadable)
        /// The file is not valid TOML; the reason holds the line and column.
        public static let syntax = Code(.syntax)
        /// A key the daemon does not know: a typo, or a key of another kind of table.
        public static let unknownKey = Code(.unknownKey)
        /// A value of the wrong TOML type.
        public static let wrongType = Code(.wrongType)
        /// A number outside its allowed range.
        public static let outOfRange = Code(.outOfRange)
        /// The right type but not an acceptable value (a relative path, a bad URL, ...).
        public static let invalidValue = Code(.invalidValue)
        /// A required key is absent.
        public static let missingKey = Code(.missingKey)
        /// Keys that exclude each other are both set, e.g. `api_key_env` and `api_key_file`.
        public static let conflictingKeys = Code(.conflictingKeys)
        /// A tool, provider, rate limit or MCP server name outside `^[a-zA-Z0-9_-]{1,64}$`.
        public static let invalidName = Code(.invalidName)
        /// A name declared in two files.
        public static let duplicateName = Code(.duplicateName)
        /// A reference to a provider or rate limit that no file declares.
        public static let undeclaredReference = Code(.undeclaredReference)
        /// A section a `tools.d` file may not hold.
        public static let notAllowedHere = Code(.notAllowedHere)

        public var description: String {
            switch self.code {
            case .unreadable: "unreadable"
            case .syntax: "syntax"
            case .unknownKey: "unknown_key"
            case .wrongType: "wrong_type"
            case .outOfRange: "out_of_range"
            case .invalidValue: "invalid_value"
            case .missingKey: "missing_key"
            case .conflictingKeys: "conflicting_keys"
            case .invalidName: "invalid_name"
            case .duplicateName: "duplicate_name"
            case .undeclaredReference: "undeclared_reference"
            case .notAllowedHere: "not_allowed_here"
            }
        }
    }

    /// What kind of problem it is.
    public let code: Code
    /// The path of the file at fault, as it was given (or as `tools.d` listing built it).
    public let file: String
    /// The full dotted key, like `tools.weather.timeout_ms` or `tools.x.argv[0]`; "" when the
    /// problem is the file as a whole.
    public let key: String
    /// Why, in words meant for the person editing the file.
    public let reason: String

    public init(_ code: Code, file: String, key: String, reason: String) {
        self.code = code
        self.file = file
        self.key = key
        self.reason = reason
    }

    /// `FILE: KEY: REASON`, or `FILE: REASON` without a key.
    public var description: String {
        self.key.isEmpty ? "\(self.file): \(self.reason)" : "\(self.file): \(self.key): \(self.reason)"
    }
}
