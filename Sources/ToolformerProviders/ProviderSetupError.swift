/// Why a provider could not be built from its `[providers.NAME]` table: most often an API key that
/// is not where the configuration says it is.
///
/// Messages name the provider and where the key was looked for (a variable's name, a file's path,
/// a credential's name), never a value.
public struct ProviderSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case variableNotSet(variable: String)
        case fileUnreadable(path: String, reason: String)
        case credentialsDirectoryNotSet(credential: String)
        case invalidCredentialName(credential: String)
        case credentialUnreadable(credential: String, path: String, reason: String)
        case emptyKey(source: String)
        case invalidKey(source: String)
        case invalidBaseURL
        case invalidHeader(name: String)
    }

    /// The `[providers.NAME]` table's name.
    public let provider: String
    private let code: Code

    private init(_ provider: String, _ code: Code) {
        self.provider = provider
        self.code = code
    }

    /// `api_key_env` names a variable that is not set.
    public static func variableNotSet(provider: String, variable: String) -> ProviderSetupError {
        .init(provider, .variableNotSet(variable: variable))
    }

    /// `api_key_file` cannot be read; `reason` is the system's (no such file, permission denied).
    public static func fileUnreadable(provider: String, path: String, reason: String) -> ProviderSetupError {
        .init(provider, .fileUnreadable(path: path, reason: reason))
    }

    /// `credential` is set, but the daemon runs without `$CREDENTIALS_DIRECTORY`.
    public static func credentialsDirectoryNotSet(provider: String, credential: String) -> ProviderSetupError {
        .init(provider, .credentialsDirectoryNotSet(credential: credential))
    }

    /// `credential` is not a plain file name.
    public static func invalidCredentialName(provider: String, credential: String) -> ProviderSetupError {
        .init(provider, .invalidCredentialName(credential: credential))
    }

    /// `$CREDENTIALS_DIRECTORY/NAME` cannot be read.
    public static func credentialUnreadable(
        provider: String, credential: String, path: String, reason: String
    ) -> ProviderSetupError {
        .init(provider, .credentialUnreadable(credential: credential, path: path, reason: reason))
    }

    /// The key's source exists but holds nothing but whitespace. `source` says where it is.
    public static func emptyKey(provider: String, source: String) -> ProviderSetupError {
        .init(provider, .emptyKey(source: source))
    }

    /// The key holds a line break or another control character, which no HTTP header may carry.
    public static func invalidKey(provider: String, source: String) -> ProviderSetupError {
        .init(provider, .invalidKey(source: source))
    }

    /// `base_url` is not an `http://` or `https://` URL.
    public static func invalidBaseURL(provider: String) -> ProviderSetupError { .init(provider, .invalidBaseURL) }

    /// A configured header's name is not a token, or its value holds a control character.
    public static func invalidHeader(provider: String, name: String) -> ProviderSetupError {
        .init(provider, .invalidHeader(name: name))
    }

    public var description: String {
        let prefix = "provider '\(provider)': "
        switch code {
        case .variableNotSet(let variable):
            return prefix + "the API key variable \(variable) is not set in the daemon's environment"
        case .fileUnreadable(let path, let reason):
            return prefix + "cannot read the API key file \(path) (\(reason))"
        case .credentialsDirectoryNotSet(let credential):
            return prefix
                + "the API key is the systemd credential '\(credential)', but CREDENTIALS_DIRECTORY is not set "
                + "(LoadCredential= in the unit provides it)"
        case .invalidCredentialName(let credential):
            return prefix + "'\(credential)' is not a credential name (a plain file name is expected)"
        case .credentialUnreadable(let credential, let path, let reason):
            return prefix + "cannot read the systemd credential '\(credential)' at \(path) (\(reason))"
        case .emptyKey(let source):
            return prefix + "the API key in \(source) is empty"
        case .invalidKey(let source):
            return prefix + "the API key in \(source) contains a line break or control character"
        case .invalidBaseURL:
            return prefix + "base_url must be an http:// or https:// URL"
        case .invalidHeader(let name):
            return prefix + "header '\(name)' has an invalid name or a control character in its value"
        }
    }
}
