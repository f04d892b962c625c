/// Left-aligned columns separated by three spaces, as kubectl prints them. The last column is not
/// padded; line breaks inside a cell become spaces so a row stays one line.
public struct TextTable: Sendable {
    public var header: [String]
    public var rows: [[String]]
    public var indent: String

    public init(header: [String], rows: [[String]] = [], indent: String = "") {
        self.header = header
        self.rows = rows
        self.indent = indent
    }

    public func render() -> String {
        let all = ([header] + rows).map { row in
            (0..<header.count).map { i in
                i < row.count ? row[i].replacingNewlines() : ""
            }
        }
        let widths = (0..<header.count).map { i in all.map { $0[i].count }.max() ?? 0 }
        return all.map { row in
            var line = indent
            for (i, cell) in row.enumerated() {
                if i == row.count - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: widths[i] - cell.count + 3)
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
