/// A plain text table; numbers right-aligned, the first column (and any in `leftAligned`) left.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    var leftAligned: Set<Int>

    init(_ headers: [String], leftAligned: Set<Int> = [0]) {
        self.headers = headers
        self.leftAligned = leftAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    var text: String {
        let all = [headers] + rows
        var widths = [Int](repeating: 0, count: headers.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func format(_ row: [String]) -> String {
            let line = row.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                return leftAligned.contains(index) ? cell + pad : pad + cell
            }.joined(separator: "  ")
            return String(line.reversed().drop { $0 == " " }.reversed())
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([format(headers), rule] + rows.map(format)).joined(separator: "\n")
    }
}
