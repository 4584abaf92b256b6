import Foundation

/// RFC 4180 CSV: fields separated by commas, records by CRLF; a field holding a comma, quote, CR or LF is quoted
/// and its quotes doubled.
enum CSV {
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }

    /// Parses a whole CSV text into rows of fields (accepts CRLF or LF line ends). Nil for an unterminated quote.
    static func parse(_ text: String) -> [[String]]? {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var afterQuote = false
        var bytes = Array(text.utf8)
        bytes.append(10)  // guarantees the last row is closed
        var i = 0
        let n = bytes.count
        func endField() { row.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true); afterQuote = false }
        while i < n {
            let c = bytes[i]
            if quoted {
                if c == 34 {
                    if i + 1 < n, bytes[i + 1] == 34 { field.append(34); i += 1 } else { quoted = false; afterQuote = true }
                } else {
                    field.append(c)
                }
            } else {
                switch c {
                case 34 where field.isEmpty && !afterQuote: quoted = true
                case 44: endField()
                case 13 where i + 1 < n && bytes[i + 1] == 10: break
                case 10:
                    endField()
                    if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
                    row = []
                default: field.append(c)
                }
            }
            i += 1
        }
        return quoted ? nil : rows
    }
}
