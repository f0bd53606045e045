import Foundation
import Testing
import ToolformerCore
import ToolformerHTTP
import ToolformerProtocol
import ToolformerProviders
import ToolformerTesting

@Suite(.timeLimit(.minutes(1)))
struct ProviderCredentialTests {
    static let answer = #"{"model":"m","choices":[{"finish_reason":"stop","message":{"content":"ok"}}]}"#

    /// The Authorization header an OpenAI provider built from `key` sends.
    func sentAuthorization(key: ToolformerConfig.Secret, environment: [String: String]) async throws -> String? {
        try await TestHTTPServer.with({ _ in .json(Self.answer) }) { server in
            try await withProviderHTTPClient { client in
                let provider = try OpenAIProvider(
                    config: providerConfig(.openai, baseURL: server.baseURL, key: key), client: client,
                    environment: environment, logger: providerTestQuietLogger)
                _ = try await provider.complete(LLMRequest(model: "m", messages: [.user("x")], tools: []))
                return server.requests.first?.header("authorization")
            }
        }
    }

    func build(_ key: ToolformerConfig.Secret, environment: [String: String], kind: ProviderConfig.Kind = .openai)
        async throws
        -> ProviderSetupError?
    {
        try await withProviderHTTPClient { client in
            setupError { () throws(ProviderSetupError) in
                try ProviderFactory.make(
                    providerConfig(kind, baseURL: "http://127.0.0.1:1", name: "main", key: key), client: client,
                    environment: environment, logger: providerTestQuietLogger)
            }
        }
    }

    @Test func keyFromAnEnvironmentVariable() async throws {
        let header = try await sentAuthorization(
            key: .environment("OPENAI_API_KEY"), environment: ["OPENAI_API_KEY": "sk-env-123\n", "OTHER": "x"])
        #expect(header == "Bearer sk-env-123")
    }

    @Test func keyFromAFileWithoutItsTrailingNewline() async throws {
        let directory = try makeProviderTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "sk-file-456\n".write(toFile: directory + "/openai.key", atomically: true, encoding: .utf8)
        let header = try await sentAuthorization(key: .file(directory + "/openai.key"), environment: [:])
        #expect(header == "Bearer sk-file-456")
    }

    @Test func keyFromTheCredentialsDirectory() async throws {
        let directory = try makeProviderTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "sk-cred-789\r\n".write(toFile: directory + "/openai", atomically: true, encoding: .utf8)
        let header = try await sentAuthorization(
            key: .systemdCredential("openai"), environment: ["CREDENTIALS_DIRECTORY": directory])
        #expect(header == "Bearer sk-cred-789")
    }

    @Test func missingVariableNamesItButNoValue() async throws {
        let error = try #require(
            try await build(.environment("OPENAI_API_KEY"), environment: ["OPENAI_KEY": "sk-close-but-wrong"]))
        #expect(error.provider == "main")
        #expect(error.description.contains("provider 'main'"))
        #expect(error.description.contains("OPENAI_API_KEY"))
        #expect(!error.description.contains("sk-close-but-wrong"))
    }

    @Test func missingFileNamesItsPath() async throws {
        let directory = try makeProviderTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/absent.key"
        let error = try #require(try await build(.file(path), environment: [:], kind: .anthropic))
        #expect(error.description.contains(path))
        #expect(error.description.contains("no such file"))
        #expect(error == .fileUnreadable(provider: "main", path: path, reason: "no such file"))
    }

    @Test func missingCredentialNamesTheDirectoryItLookedIn() async throws {
        let directory = try makeProviderTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let absent = try #require(
            try await build(.systemdCredential("openai"), environment: ["CREDENTIALS_DIRECTORY": directory]))
        #expect(absent.description.contains("'openai'"))
        #expect(absent.description.contains(directory + "/openai"))

        let unset = try #require(try await build(.systemdCredential("openai"), environment: [:]))
        #expect(unset.description.contains("CREDENTIALS_DIRECTORY"))
        #expect(unset.description.contains("'openai'"))

        let escaping = try #require(
            try await build(.systemdCredential("../etc/passwd"), environment: ["CREDENTIALS_DIRECTORY": directory]))
        #expect(escaping == .invalidCredentialName(provider: "main", credential: "../etc/passwd"))
    }

    @Test func emptyOrMultilineKeysAreRefusedWithoutQuotingThem() async throws {
        let empty = try #require(try await build(.environment("KEY"), environment: ["KEY": " \n"]))
        #expect(empty.description.contains("environment variable KEY is empty"))

        let directory = try makeProviderTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "sk-line-one\nsk-line-two\n".write(toFile: directory + "/key", atomically: true, encoding: .utf8)
        let multiline = try #require(try await build(.file(directory + "/key"), environment: [:]))
        #expect(multiline.description.contains("line break"))
        #expect(!multiline.description.contains("sk-line"))
    }

    @Test func factoryBuildsEachKind() async throws {
        try await withProviderHTTPClient { client in
            var openai = ProviderConfig(name: "gpt", kind: .openai)
            openai.apiKey = .environment("OPENAI_API_KEY")
            let built = try ProviderFactory.make(
                openai, client: client, environment: ["OPENAI_API_KEY": "sk-1"], logger: providerTestQuietLogger)
            #expect(built is OpenAIProvider)
            #expect(built?.name == "gpt")
            #expect(built?.defaultModel == "gpt-4o-mini")

            let claude = try ProviderFactory.make(
                ProviderConfig(name: "claude", kind: .anthropic), client: client, environment: [:],
                logger: providerTestQuietLogger)
            #expect(claude is AnthropicProvider)
            #expect(claude?.defaultModel == "claude-sonnet-4-5")

            let mock = try ProviderFactory.make(
                ProviderConfig(name: "mock", kind: .mock), client: client, environment: [:],
                logger: providerTestQuietLogger)
            #expect(mock == nil)
        }
    }

    @Test func badBaseURLOrHeaderIsASetupError() async throws {
        try await withProviderHTTPClient { client in
            var config = ProviderConfig(name: "local", kind: .openai)
            config.baseURL = "ftp://example.com/v1"
            let url = setupError { () throws(ProviderSetupError) in
                try OpenAIProvider(config: config, client: client, environment: [:], logger: providerTestQuietLogger)
            }
            #expect(url == .invalidBaseURL(provider: "local"))

            config.baseURL = "http://127.0.0.1:1/v1"
            config.headers = ["X-Token": "secret\r\nInjected: yes"]
            let header = setupError { () throws(ProviderSetupError) in
                try OpenAIProvider(config: config, client: client, environment: [:], logger: providerTestQuietLogger)
            }
            #expect(header == .invalidHeader(provider: "local", name: "X-Token"))
            #expect(header?.description.contains("secret") == false)
        }
    }
}
