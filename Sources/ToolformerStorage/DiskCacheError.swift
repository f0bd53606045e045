/// The disk tier cannot start: its directory cannot be made, is not a directory, or cannot be
/// written. The daemon reports it with the configured `cache.dir`.
public struct DiskCacheError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum _Code: Sendable, Hashable {
            case cannotCreateDirectory
            case notADirectory
            case notWritable
        }

        private let code: _Code

        private init(_ code: _Code) { self.code = code }

        /// `mkdir` failed for the directory or one of its parents.
        public static let cannotCreateDirectory = Code(.cannotCreateDirectory)
        /// The path exists and is something else.
        public static let notADirectory = Code(.notADirectory)
        /// The directory exists but a file cannot be created in it (permissions, read-only mount).
        public static let notWritable = Code(.notWritable)

        public var description: String {
            switch code {
            case .cannotCreateDirectory: "cannot_create_directory"
            case .notADirectory: "not_a_directory"
            case .notWritable: "not_writable"
            }
        }
    }

    public let code: Code
    /// The path at fault: the cache directory, or the parent or subdirectory that failed.
    public let path: String
    /// The system's reason (`strerror`), or "" when there is none.
    public let reason: String

    init(_ code: Code, path: String, reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    public var description: String {
        let what =
            switch code {
            case .cannotCreateDirectory: "cannot create the cache directory"
            case .notADirectory: "the cache directory is not a directory"
            default: "cannot write in the cache directory"
            }
        return reason.isEmpty ? "\(path): \(what)" : "\(path): \(what): \(reason)"
    }
}
