import ToolformerProtocol

/// A tool's arguments from the command line: `--args` (JSON, `@file`, `@-`) overlaid with
/// `key=value` pairs, each value JSON when it parses as JSON and a string otherwise.
enum ToolArguments {
    static func build(pairs: [String], args: String?) throws(CtlFailure) -> JSONObject {
        var arguments: JSONObject = [:]
        if let args {
            let text = args.hasPrefix("@") ? try InputFile.read(String(args.dropFirst())) : args
            let parsed: JSONValue
            do { parsed = try JSONParser().parse(text) } catch {
                throw .usage("--args is not valid JSON: \(error.message)")
            }
            guard case .object(let object) = parsed else { throw .usage("--args must be a JSON object, not \(parsed.typeName)") }
            arguments = object
        }
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw .usage("'\(pair)' is not key=value (e.g. ms=250, city=Paris, tags='[\"a\",\"b\"]')")
            }
            arguments[String(pair[..<equals])] = value(String(pair[pair.index(after: equals)...]))
        }
        return arguments
    }

    /// `250` is a number, `true` a boolean, `[1,2]` an array, `Paris` (not JSON) a string; quote
    /// JSON-looking text to keep it a string: `zip='"01234"'`.
    static func value(_ text: String) -> JSONValue {
        (try? JSONParser().parse(text)) ?? .string(text)
    }
}
