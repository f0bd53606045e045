import Foundation
import ToolformerCore

/// The error `parse` throws for `toml`, or nil when it loads.
func configError(_ toml: String, file: String = "test.toml") -> ConfigError? {
    do {
        _ = try ToolformerConfig.parse(toml: toml, file: file)
        return nil
    } catch {
        return error
    }
}

/// The error `load` throws for `path`, or nil when it loads.
func loadError(_ path: String) -> ConfigError? {
    do {
        _ = try ToolformerConfig.load(path: path)
        return nil
    } catch {
        return error
    }
}

/// A temporary folder holding a main file and, optionally, `tools.d` files; removed by `remove()`.
struct ConfigFolder {
    let path: String
    var mainFile: String { self.path + "/toolformerd.toml" }
    var dropInFolder: String { self.path + "/tools.d" }

    init(main: String, dropIns: [String: String] = [:]) throws {
        self.path = FileManager.default.temporaryDirectory.path + "/toolformer-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
        try main.write(toFile: self.mainFile, atomically: true, encoding: .utf8)
        if !dropIns.isEmpty {
            try FileManager.default.createDirectory(atPath: self.dropInFolder, withIntermediateDirectories: true)
            for (name, text) in dropIns {
                try text.write(toFile: self.dropInFolder + "/" + name, atomically: true, encoding: .utf8)
            }
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

/// A path inside the repository, from this file's place in it.
func repositoryPath(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent(relative)
        .path
}

/// The repository's shipped default configuration.
let shippedConfigPath = repositoryPath("etc/toolformer/toolformerd.toml")
