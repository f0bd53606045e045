/// Finds the bad TOML that crashes the parser instead of failing.
///
/// toml++ 3.4 (inside TOMLKit 0.6.0) asserts, or in a release build assumes, two things that a
/// typo can break: that a table header's first character after `[` or `[[` (and blanks) starts a
/// key (`[=`, `[ .a]`, `[é]`, a lone `[` at the end of a line), and that an array never meets `}`
/// where it expects a value (`x = [}`). Either aborts a debug build and is undefined behaviour in
/// a release build; on `daemon/reload` that would take the daemon down. So the text is scanned
/// first, just enough to know where statements start and where arrays are: strings, comments and
/// brackets are followed as TOML defines them.
enum TOMLCrashGuard {
    /// Where toml++ would crash, and what is wrong there.
    struct Place: Equatable {
        /// 1-based.
        var line: Int
        /// 1-based, in Unicode scalars.
        var column: Int
        var reason: String
    }

    /// The first place toml++ cannot survive, or nil.
    static func unsafePlace(in text: String) -> Place? {
        var scanner = Scanner(Array(text.unicodeScalars))
        return scanner.run()
    }

    private struct Scanner {
        let scalars: [Unicode.Scalar]
        var index = 0
        var line = 1
        var lineStart = 0

        init(_ scalars: [Unicode.Scalar]) {
            self.scalars = scalars
            // toml++ skips a byte order mark, so the first line's header must still be checked.
            if scalars.first == "\u{FEFF}" { (self.index, self.lineStart) = (1, 1) }
        }

        var current: Unicode.Scalar? { self.index < self.scalars.count ? self.scalars[self.index] : nil }

        func peek(_ offset: Int) -> Unicode.Scalar? {
            let position = self.index + offset
            return position < self.scalars.count ? self.scalars[position] : nil
        }

        mutating func advance() {
            if self.current == "\n" {
                self.line += 1
                self.lineStart = self.index + 1
            }
            self.index += 1
        }

        mutating func skipBlanks() {
            while let c = self.current, c == " " || c == "\t" { self.advance() }
        }

        mutating func skipLine() {
            while let c = self.current, c != "\n" { self.advance() }
        }

        func place(_ reason: String) -> Place {
            Place(line: self.line, column: self.index - self.lineStart + 1, reason: reason)
        }

        mutating func run() -> Place? {
            while let c = self.current {
                switch c {
                case " ", "\t", "\r", "\n":
                    self.advance()
                case "#":
                    self.skipLine()
                case "[":
                    self.advance()
                    self.skipBlanks()
                    if self.current == "[" {
                        self.advance()
                        self.skipBlanks()
                    }
                    guard let first = self.current else { return nil }
                    if !Self.startsKey(first) && first != "]" {
                        return self.place("a table header needs a key after '['")
                    }
                    // A header is one line; a quoted key in it cannot hold a line break.
                    self.skipLine()
                default:
                    if let place = self.skipKeyValue() { return place }
                }
            }
            return nil
        }

        /// To the line break that ends a key-value pair, past strings and open brackets. Returns
        /// the place of a `}` where an array expects a value (`x = [}`, `x = [1, }`), which
        /// toml++ asserts is never there.
        mutating func skipKeyValue() -> Place? {
            var open: [Unicode.Scalar] = []
            var arrayWantsValue = false
            while let c = self.current {
                switch c {
                case "\n" where open.isEmpty:
                    return nil
                case " ", "\t", "\r", "\n":
                    self.advance()
                case "#":
                    self.skipLine()
                case "\"", "'":
                    self.skipString(quote: c)
                    arrayWantsValue = false
                case "[", "{":
                    open.append(c)
                    arrayWantsValue = c == "["
                    self.advance()
                case ",":
                    arrayWantsValue = open.last == "["
                    self.advance()
                case "}" where arrayWantsValue:
                    return self.place("an array needs a value or ']' here, not '}'")
                case "]", "}":
                    if open.last == (c == "]" ? "[" : "{") { open.removeLast() }
                    arrayWantsValue = false
                    self.advance()
                default:
                    arrayWantsValue = false
                    self.advance()
                }
            }
            return nil
        }

        /// A basic (`"`) or literal (`'`) string, single- or multi-line.
        mutating func skipString(quote: Unicode.Scalar) {
            let escapes = quote == "\""
            let multiline = self.peek(1) == quote && self.peek(2) == quote
            for _ in 0..<(multiline ? 3 : 1) { self.advance() }
            while let c = self.current {
                if escapes && c == "\\" {
                    self.advance()
                    self.advance()
                    continue
                }
                if !multiline && c == "\n" { return }  // unterminated: toml++ reports it
                if c == quote {
                    if !multiline {
                        self.advance()
                        return
                    }
                    if self.peek(1) == quote && self.peek(2) == quote {
                        for _ in 0..<3 { self.advance() }
                        // Up to two more quotes belong to the string's content (`"""a"""""`).
                        for _ in 0..<2 where self.current == quote { self.advance() }
                        return
                    }
                }
                self.advance()
            }
        }

        static func startsKey(_ c: Unicode.Scalar) -> Bool {
            c.isASCII && (ConfigKeyPath.isBareKeyByte(UInt8(c.value)) || c == "\"" || c == "'")
        }
    }
}
