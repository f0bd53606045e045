import Testing
import ToolformerTesting
@testable import ToolformerCore

@Suite("Configuration: TOML the parser cannot survive")
struct ConfigTOMLGuardTests {
    // Each of these aborts toml++ 3.4 in a debug build (undefined behaviour in release).
    @Test("headers without a key after '[' are refused as syntax errors, not crashes", arguments: [
        ("[=", 1, 2), ("[#", 1, 2), ("[\n", 1, 2), ("[ .a]", 1, 3), ("[[\t#", 1, 4), ("[é]", 1, 2),
        ("x = 1\n\n  [[=]]", 3, 5), ("secret = \"s\"\n[[[", 2, 3), ("[a]\nb = [\n1]\n[\u{A0}c]", 4, 2), ("\u{FEFF}[=]", 1, 2),
    ])
    func crashingHeaders(text: String, line: Int, column: Int) throws {
        let error = try #require(configError(text))
        #expect(error.code == .syntax)
        #expect(error.reason.hasPrefix("not valid TOML at line \(line), column \(column): "))
    }

    @Test("valid TOML with brackets in strings, arrays and comments is not flagged", arguments: [
        "a = \"\"\"x\n[=\n\"\"\"\n[b]",
        "a = '''x\n[=\n'''\n[b]",
        "a = \"\"\"x\"\"\"\"\"\n[b]",
        "a = [\n# [=\n1,\n]\n[b]",
        "a = { d = [ \"[=\", '[#' ] }\n[b]",
        "a = \"\\\"[=\"\n[b]",
        "\"[=\" = 1\n[\"quoted\"]\n[ spaced ]\n[[ arr ]]\n['lit']",
        "a = [[1, 2], [3]]\n[b] # [=\n",
        "[a]\r\nb = 1\r\n[c]\r\n",
        "",
        "[",
    ])
    func validText(text: String) {
        #expect(TOMLCrashGuard.unsafePlace(in: text) == nil)
    }
}

@Suite("Configuration: random malformed TOML")
struct ConfigRandomTOMLTests {
    // Random fragments of TOML, fixed seed. Before the guard, about 1 in 40 of these aborted the
    // process; a regression fails this run loudly (debug builds assert).
    @Test("random malformed TOML is refused, never a crash")
    func randomText() {
        let pieces = [
            "[", "]", "[", "=", "#", "\"", "'", "\n", "a", "b", ".", "{", "}", ",", "1", " ", "\t", "é", "\\",
            "\"\"\"", "'''", " = ", "\r\n", "x = ", "[a]\n", "[[", "\u{A0}", "}", "{", "[1, ", "true", "inf",
            "+", "-", ":", "T", "1979-05-27", "07:32:00", "0x", "e", "_", "\\u", "\u{FEFF}", "y = {", "}\n",
            "]\n", "= [", "= {",
        ]
        var random = SplitMix64(seed: 0x746F_6F6C_666F_726D)
        var guarded = 0
        for _ in 0..<20000 {
            let count = Int(random.next() % 20) + 1
            let text = (0..<count).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            if let error = configError(text), error.code == .syntax,
                error.reason.contains("a table header needs") || error.reason.contains("an array needs")
            {
                guarded += 1
            }
        }
        #expect(guarded > 100)
    }
}
