import ToolformerProtocol

/// A `url` with `{name}` placeholders, parsed once when the tool is built.
///
/// A placeholder is `{` + letters, digits, `_`, `-` or `.` + `}`; other braces stay as written.
/// Each is replaced by its argument, percent-encoded so that only RFC 3986's unreserved characters
/// remain: an argument can fill a path segment or a query value but never add a `/`, `?`, `&`,
/// `#` or `@` of its own.
struct HTTPURLTemplate: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    let segments: [Segment]

    init(_ template: String) {
        var segments: [Segment] = []
        var literal = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            literal += rest[..<open]
            let afterOpen = rest.index(after: open)
            if let close = rest[afterOpen...].firstIndex(of: "}"),
                case let name = rest[afterOpen..<close], !name.isEmpty, name.allSatisfy(Self.isNameCharacter)
            {
                if !literal.isEmpty { segments.append(.literal(literal)) }
                literal = ""
                segments.append(.placeholder(String(name)))
                rest = rest[rest.index(after: close)...]
            } else {
                literal += "{"
                rest = rest[afterOpen...]
            }
        }
        literal += rest
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.segments = segments
    }

    /// Placeholder names in order of first appearance, without repeats.
    var placeholders: [String] {
        var seen: Set<String> = []
        return segments.compactMap {
            guard case .placeholder(let name) = $0, seen.insert(name).inserted else { return nil }
            return name
        }
    }

    /// The URL for one call, or why the arguments cannot fill it.
    func expand(_ arguments: JSONObject) -> Result<String, ExpansionError> {
        var url = ""
        for segment in segments {
            switch segment {
            case .literal(let text):
                url += text
            case .placeholder(let name):
                guard let value = arguments[name] else { return .failure(.missing(name)) }
                switch value {
                case .string(let text): url += Self.percentEncode(text)
                case .int, .double, .bool: url += Self.percentEncode(value.description)
                case .null, .array, .object: return .failure(.notScalar(name, value.typeName))
                }
            }
        }
        return .success(url)
    }

    enum ExpansionError: Error, Equatable, CustomStringConvertible {
        case missing(String)
        case notScalar(String, String)

        var description: String {
            switch self {
            case .missing(let name): "missing argument '\(name)' for the URL's {\(name)}"
            case .notScalar(let name, let type):
                "argument '\(name)' must be a string, number or boolean to fill the URL, not \(type)"
            }
        }
    }

    private static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || c == ".")
    }

    /// UTF-8, with every byte outside `ALPHA / DIGIT / "-" / "." / "_" / "~"` as `%XX`.
    static func percentEncode(_ text: String) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
