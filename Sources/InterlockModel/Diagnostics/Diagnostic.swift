/// One problem found in the desired-state repository: where, which field, what is wrong and how to fix it.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error
        case warning
    }

    /// A stable machine-readable code, e.g. `unknown-field`, `bad-cron`.
    public var code: String
    public var severity: Severity
    public var location: SourceLocation
    /// The field as a dotted path inside the file (`windows[0].start`), or empty for the whole file.
    public var field: String
    public var message: String
    /// What to do about it.
    public var hint: String?

    public init(
        _ code: String, at location: SourceLocation, field: String = "", _ message: String,
        hint: String? = nil, severity: Severity = .error
    ) {
        self.code = code
        self.severity = severity
        self.location = location
        self.field = field
        self.message = message
        self.hint = hint
    }

    /// `file:line:col: error: field: message (hint)` on one line.
    public var description: String {
        var text = "\(location): \(severity.rawValue): "
        if !field.isEmpty { text += "\(field): " }
        text += message
        if let hint { text += " — \(hint)" }
        return text
    }
}

/// Collects diagnostics while a repository is read, so that every problem is reported, not just the first.
public struct Diagnostics: Sendable {
    public private(set) var all: [Diagnostic] = []

    public init() {}

    public mutating func append(_ diagnostic: Diagnostic) { all.append(diagnostic) }
    public mutating func append(contentsOf other: Diagnostics) { all.append(contentsOf: other.all) }

    public mutating func error(
        _ code: String, at location: SourceLocation, field: String = "", _ message: String, hint: String? = nil
    ) {
        all.append(Diagnostic(code, at: location, field: field, message, hint: hint))
    }

    public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
    public var hasErrors: Bool { all.contains { $0.severity == .error } }

    /// Sorted by file, line and column (then field, code and text, so the order never depends on the order in
    /// which problems were found); duplicates removed.
    public var sorted: [Diagnostic] {
        var seen = Set<Diagnostic>()
        return all.filter { seen.insert($0).inserted }.sorted {
            if $0.location != $1.location { return $0.location < $1.location }
            if $0.field != $1.field { return $0.field < $1.field }
            if $0.code != $1.code { return $0.code < $1.code }
            if $0.message != $1.message { return $0.message < $1.message }
            if $0.severity != $1.severity { return $0.severity == .error }
            return ($0.hint ?? "") < ($1.hint ?? "")
        }
    }
}

/// Thrown when the desired state does not validate; carries every problem found.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public var description: String {
        let count = diagnostics.count
        let lines = diagnostics.map(\.description).joined(separator: "\n")
        return "the desired state has \(count) problem\(count == 1 ? "" : "s"):\n\(lines)"
    }
}
