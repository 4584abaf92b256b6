import Foundation

/// RFC 4180 CSV: fields separated by commas, records by CRLF; a field holding a comma, quote, CR or LF is quoted
/// and its quotes doubled.
///
/// A field that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return)
/// is neutralised as OWASP recommends: a single quote is put in front of it, so an auditor opening the export sees
/// the text, and no user name or reason can run in their spreadsheet.
enum CSV {
    static func field(_ text: String) -> String {
        var text = text
        if isFormulaLike(text.drop { $0 == "'" }) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Whether a spreadsheet would evaluate `text` (after any leading quotes): the written field then carries one
    /// quote more, which ``parse(_:)`` takes off again, so that an export still reads back to the stored values.
    static func isFormulaLike(_ text: Substring) -> Bool {
        guard let first = text.unicodeScalars.first else { return false }
        if first == "\t" || first == "\r" { return true }
        // Some importers trim leading blanks and line breaks before deciding.
        guard let significant = text.unicodeScalars.first(where: { $0 != " " && $0 != "\n" && $0 != "\u{A0}" }) else { return false }
        return significant == "=" || significant == "+" || significant == "-" || significant == "@" || significant == "\t" || significant == "\r"
    }

    /// A parsed field as it was before ``field(_:)`` neutralised it.
    static func restored(_ field: String) -> String {
        guard field.hasPrefix("'"), isFormulaLike(field.drop { $0 == "'" }) else { return field }
        return String(field.dropFirst())
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
        func endField() { row.append(restored(String(decoding: field, as: UTF8.self))); field.removeAll(keepingCapacity: true); afterQuote = false }
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
