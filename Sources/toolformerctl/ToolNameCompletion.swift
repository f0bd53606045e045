import ArgumentParser
import ToolformerClient
import ToolformerProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Shell completion of tool names: asks the daemon (the `--socket` on the line being completed,
/// else the default one) for `tools/list`, briefly; no daemon, no suggestions.
enum ToolNameCompletion {
    static let kind = CompletionKind.custom { words, _, prefix in names(words: words, prefix: prefix) }

    static func names(words: [String], prefix: String) -> [String] {
        var socket: String?
        for (index, word) in words.enumerated() {
            if word == "--socket", index + 1 < words.count { socket = words[index + 1] }
            if word.hasPrefix("--socket=") { socket = String(word.dropFirst("--socket=".count)) }
        }
        let path = socket ?? SocketPath.clientDefault(environment: processEnvironment(), uid: getuid())
        guard let connection = try? ToolformerConnection(path: path),
            let tools = try? connection.listAllTools(timeout: .seconds(1))
        else { return [] }
        return tools.compactMap { $0["name"]?.stringValue }.filter { $0.hasPrefix(prefix) }
    }
}
