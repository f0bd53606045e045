import ToolformerCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds a provider's API key where `api_key_env`, `api_key_file` or `credential` says it is.
///
/// Read once, when the provider is built: a key that is missing fails the configuration (and a
/// reload) with an error that names the place, rather than every request with a 401.
enum ProviderAPIKey {
    /// Key files are a line long; anything larger is a mistake, not a key.
    static let maxFileBytes = 64 << 10

    /// The key without surrounding whitespace (a trailing newline above all), or `nil` when the
    /// configuration names none.
    static func resolve(
        _ secret: ToolformerConfig.Secret?, provider: String, environment: [String: String]
    ) throws(ProviderSetupError) -> String? {
        guard let secret else { return nil }
        let raw: String
        let source: String
        switch secret {
        case .environment(let variable):
            guard let value = environment[variable] else {
                throw .variableNotSet(provider: provider, variable: variable)
            }
            raw = value
            source = "environment variable \(variable)"
        case .file(let path):
            switch readFile(path) {
            case .success(let text): raw = text
            case .failure(let reason): throw .fileUnreadable(provider: provider, path: path, reason: reason.text)
            }
            source = "file \(path)"
        case .systemdCredential(let credential):
            guard !credential.isEmpty, !credential.contains("/"), credential != ".", credential != ".." else {
                throw .invalidCredentialName(provider: provider, credential: credential)
            }
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw .credentialsDirectoryNotSet(provider: provider, credential: credential)
            }
            let path = (directory.hasSuffix("/") ? directory : directory + "/") + credential
            switch readFile(path) {
            case .success(let text): raw = text
            case .failure(let reason):
                throw .credentialUnreadable(provider: provider, credential: credential, path: path, reason: reason.text)
            }
            source = "systemd credential '\(credential)'"
        }
        let key = trimmed(raw)
        guard !key.isEmpty else { throw .emptyKey(provider: provider, source: source) }
        // A line break would split the header; NIO would refuse the request later, less clearly.
        guard key.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
            throw .invalidKey(provider: provider, source: source)
        }
        return key
    }

    /// `text` without leading and trailing ASCII whitespace.
    static func trimmed(_ text: String) -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let bytes = Array(text.utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    struct ReadFailure: Error {
        var text: String
    }

    /// The file's contents as UTF-8, or why they cannot be had.
    static func readFile(_ path: String) -> Result<String, ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadFailure(text: describe(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(text: describe(errno)))
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > maxFileBytes {
                return .failure(ReadFailure(text: "larger than \(maxFileBytes / 1024) KiB, not a key"))
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(ReadFailure(text: "not UTF-8 text"))
        }
        return .success(text)
    }

    private static func describe(_ code: CInt) -> String {
        switch code {
        case ENOENT: "no such file"
        case EACCES, EPERM: "permission denied"
        case EISDIR: "is a directory"
        case ENOTDIR: "a path component is not a directory"
        case ELOOP: "too many symbolic links"
        default: "errno \(code)"
        }
    }
}
