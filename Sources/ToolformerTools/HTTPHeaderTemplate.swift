#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A tool's configured `headers` with `${NAME}` (the daemon's environment) and
/// `${credential:NAME}` (`$CREDENTIALS_DIRECTORY/NAME`, systemd's `LoadCredential=`) filled in.
///
/// Header values are secrets: errors name the header and the variable, never a value.
enum HTTPHeaderTemplate {
    /// Headers ready to send, and what must never leave the daemon.
    struct Resolved: Sendable {
        var headers: [(name: String, value: String)]
        /// Every value that came from a variable or a credential, and the whole value of headers
        /// that carry credentials by their name; longest first.
        var secrets: [[UInt8]]
        /// Lower-cased names of headers that hold a secret, dropped on a redirect to another origin.
        var sensitiveNames: Set<String>
    }

    struct ResolveError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// Header names whose values are credentials even when written literally in the file.
    static func isSensitiveName(_ lowercased: String) -> Bool {
        ["authorization", "proxy-authorization", "cookie"].contains(lowercased)
            || ["key", "token", "secret", "auth", "password", "session"].contains { lowercased.contains($0) }
    }

    /// Credential files are small; anything larger is a mistake, not a key.
    static let maxCredentialBytes = 64 << 10

    static func resolve(
        _ headers: [String: String], environment: [String: String], credentialsDirectory: String?
    ) -> Result<Resolved, ResolveError> {
        var resolved = Resolved(headers: [], secrets: [], sensitiveNames: [])
        var secrets: [String] = []
        for (name, template) in headers.sorted(by: { $0.key.lowercased() < $1.key.lowercased() }) {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                return .failure(ResolveError(description: "header name '\(name)' is not a valid HTTP field name"))
            }
            let lowered = name.lowercased()
            var value = ""
            var substituted = false
            var rest = Substring(template)
            while let dollar = rest.firstIndex(of: "$") {
                value += rest[..<dollar]
                let afterDollar = rest.index(after: dollar)
                guard afterDollar < rest.endIndex, rest[afterDollar] == "{" else {
                    value += "$"
                    rest = rest[afterDollar...]
                    continue
                }
                let nameStart = rest.index(after: afterDollar)
                guard let close = rest[nameStart...].firstIndex(of: "}") else {
                    return .failure(ResolveError(description: "header '\(name)' has a '${' without a closing '}'"))
                }
                let variable = String(rest[nameStart..<close])
                rest = rest[rest.index(after: close)...]
                switch lookUp(variable, header: name, environment: environment, credentialsDirectory: credentialsDirectory) {
                case .success(let text):
                    value += text
                    secrets.append(text)
                    substituted = true
                case .failure(let error):
                    return .failure(error)
                }
            }
            value += rest
            guard value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                return .failure(
                    ResolveError(description: "header '\(name)' has a line break or control character in its value"))
            }
            if substituted || isSensitiveName(lowered) {
                resolved.sensitiveNames.insert(lowered)
                secrets.append(value)
            }
            resolved.headers.append((name, value))
        }
        // Very short values would match ordinary text; they are not secrets worth the damage.
        resolved.secrets = Set(secrets.filter { $0.utf8.count >= 4 }).map { Array($0.utf8) }
            .sorted { $0.count > $1.count }
        return .success(resolved)
    }

    private static func lookUp(
        _ variable: String, header: String, environment: [String: String], credentialsDirectory: String?
    ) -> Result<String, ResolveError> {
        let credentialPrefix = "credential:"
        if variable.hasPrefix(credentialPrefix) {
            let credential = String(variable.dropFirst(credentialPrefix.count))
            guard !credential.isEmpty, !credential.hasPrefix("."),
                credential.utf8.allSatisfy({ isTokenByte($0) || $0 == UInt8(ascii: "@") }),
                !credential.contains("/")
            else {
                return .failure(ResolveError(description: "header '\(header)': '\(credential)' is not a credential name"))
            }
            guard let directory = credentialsDirectory, !directory.isEmpty else {
                return .failure(
                    ResolveError(
                        description:
                            "header '\(header)' uses ${credential:\(credential)}, but CREDENTIALS_DIRECTORY is not set"))
            }
            guard let text = readCredential(directory + "/" + credential) else {
                return .failure(
                    ResolveError(
                        description: "header '\(header)' uses ${credential:\(credential)}, which cannot be read"))
            }
            return .success(text)
        }
        guard let first = variable.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
            variable.utf8.allSatisfy({ isASCIIAlphanumeric($0) || $0 == UInt8(ascii: "_") })
        else {
            return .failure(ResolveError(description: "header '\(header)': '${\(variable)}' is not a variable name"))
        }
        guard let text = environment[variable] else {
            return .failure(
                ResolveError(description: "header '\(header)' uses ${\(variable)}, which is not set in the environment"))
        }
        return .success(text)
    }

    /// The file's text without its trailing line break(s), or `nil`.
    private static func readCredential(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > maxCredentialBytes { return nil }
        }
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        isASCIIAlphanumeric(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}
