import Rendering

/// A list answer as rows of cells, for the formats beside JSON: CSV (a header row),
/// NDJSON (one object a row) and an aligned plain-text table. Every endpoint whose
/// answer is a list of rows renders its non-JSON formats through this one type.
struct RowTable {
    /// One cell: text, a number, or unknown (`null` in NDJSON, empty in CSV, `-` in a table).
    enum Cell {
        case text(String)
        case integer(Int64)
        case unsigned(UInt64)
        case number(Double)
        case null

        var plain: String {
            switch self {
            case .text(let text): return text
            case .integer(let value): return String(value)
            case .unsigned(let value): return String(value)
            case .number(let value): return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            case .null: return ""
            }
        }
    }

    /// Column names (snake_case, as the JSON keys).
    var columns: [String]
    /// The rows, each as many cells as there are columns.
    var rows: [[Cell]] = []

    /// The body in `format` (not `.json`: JSON shapes are the routes' own). `heading`
    /// goes first in a table, the way netstat heads its output.
    func render(_ format: OutputFormat, heading: String?) -> [UInt8] {
        switch format {
        case .csv:
            var text = columns.joined(separator: ",") + "\n"
            for row in rows { text += row.map { UntrustedText.csvCell($0.plain) }.joined(separator: ",") + "\n" }
            return Array(text.utf8)
        case .ndjson, .json:
            var out: [UInt8] = []
            for row in rows {
                var json = JSONWriter(capacity: 256)
                json.beginObject()
                for (column, cell) in zip(columns, row) {
                    json.key(column)
                    switch cell {
                    case .text(let text): json.string(text)
                    case .integer(let value): json.number(value)
                    case .unsigned(let value): json.number(value)
                    case .number(let value): json.number(value)
                    case .null: json.null()
                    }
                }
                json.endObject()
                out += json.bytes
                out.append(UInt8(ascii: "\n"))
            }
            return out
        case .table:
            let cells = rows.map { $0.map { cell -> String in
                if case .null = cell { return "-" }
                return UntrustedText.terminal(cell.plain)
            } }
            var widths = columns.map(\.count)
            for row in cells { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
            func line(_ values: [String]) -> String {
                var text = ""
                for (index, value) in values.enumerated() {
                    text += index == values.count - 1 ? value : value + String(repeating: " ", count: widths[index] - value.count + 2)
                }
                return text
            }
            var text = heading.map { $0 + "\n" } ?? ""
            text += line(columns.map { $0.uppercased() }) + "\n"
            for row in cells { text += line(row) + "\n" }
            return Array(text.utf8)
        }
    }
}
