import Foundation
import InterlockModel

/// Output for people: aligned columns, colour only when writing to a terminal.
enum Terminal {
    static let colour: Bool = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    static let errorColour: Bool = isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    enum Style: String {
        case red = "31", green = "32", yellow = "33", bold = "1", dim = "2", cyan = "36"
    }

    static func styled(_ text: String, _ style: Style, stderr: Bool = false) -> String {
        (stderr ? errorColour : colour) ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("\(styled("error:", .red, stderr: true)) \(message)\n".utf8))
    }

    /// Renders rows as columns padded to the widest cell; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.enumerated().map { index, row in
            let line = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            return index == 0 ? styled(line, .bold) : line
        }.joined(separator: "\n")
    }

    /// Prints a value as pretty JSON on standard output.
    static func printJSON(_ value: Value) {
        FileHandle.standardOutput.write(Data(value.prettyJSONBytes))
    }
}

extension Diagnostic {
    var json: Value {
        var object: [String: Value] = [
            "code": .string(code), "severity": .string(severity.rawValue), "file": .string(location.file),
            "field": .string(field), "message": .string(message),
        ]
        if let line = location.line { object["line"] = .int(line) }
        if let column = location.column { object["column"] = .int(column) }
        if let hint { object["hint"] = .string(hint) }
        return .object(object)
    }

    /// One diagnostic for people: location, severity, field, message, and the fix on its own line.
    var rendered: String {
        let tag = severity == .error ? Terminal.styled("error", .red) : Terminal.styled("warning", .yellow)
        var text = "\(Terminal.styled(location.description, .bold)): \(tag): "
        if !field.isEmpty { text += "\(field): " }
        text += message
        if let hint { text += "\n    \(Terminal.styled("fix:", .cyan)) \(hint)" }
        return text
    }
}
