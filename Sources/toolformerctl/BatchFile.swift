import ToolformerProtocol

/// The calls of a batch file: a JSON array of `{name, arguments}`, an object `{"calls": [...]}`
/// (whose `maxConcurrency` and `timeoutMs` are kept), or NDJSON with one call per line.
struct BatchFile {
    var calls: [JSONObject]
    /// Other members of a `{"calls": [...]}` object, passed on to `tools/batch`.
    var options: JSONObject = [:]

    init(text: String, source: String) throws(CtlFailure) {
        let parser = JSONParser(maxDepth: 512)
        if let whole = try? parser.parse(text) {
            switch whole {
            case .array(let items):
                calls = try Self.calls(items.enumerated().map { ("\(source): calls[\($0.offset)]", $0.element) })
            case .object(var object) where object["calls"] != nil:
                guard case .array(let items)? = object["calls"] else { throw .usage("\(source): calls must be an array") }
                calls = try Self.calls(items.enumerated().map { ("\(source): calls[\($0.offset)]", $0.element) })
                object["calls"] = nil
                options = object
            case .object:
                // NDJSON with a single line.
                calls = try Self.calls([("\(source): line 1", whole)])
            default:
                throw .usage("\(source): expected an array of calls, {\"calls\": [...]}, or one call per line")
            }
        } else {
            var items: [(String, JSONValue)] = []
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
                if trimmed.isEmpty { continue }
                do {
                    items.append(("\(source): line \(number + 1)", try parser.parse(String(line))))
                } catch {
                    throw .usage("\(source): line \(number + 1): not valid JSON: \(error.message)")
                }
            }
            calls = try Self.calls(items)
        }
        guard !calls.isEmpty else { throw .usage("\(source) has no calls") }
    }

    /// Checks the shape the daemon would refuse anyway, to name the line rather than an index.
    private static func calls(_ items: [(String, JSONValue)]) throws(CtlFailure) -> [JSONObject] {
        var calls: [JSONObject] = []
        for (place, item) in items {
            guard case .object(let call) = item else { throw .usage("\(place): a call must be an object {\"name\", \"arguments\"}") }
            guard case .string(let name)? = call["name"], !name.isEmpty else { throw .usage("\(place): name is missing") }
            if let arguments = call["arguments"], arguments.objectValue == nil {
                throw .usage("\(place): arguments must be an object")
            }
            calls.append(call)
        }
        return calls
    }
}
