/// Reads typed fields out of located YAML, recording a diagnostic for every missing, unknown or mistyped
/// field instead of stopping at the first. One reader is used per repository load.
final class FieldReader {
    var diagnostics = Diagnostics()

    /// A mapping node being read, with the dotted path that leads to it (for messages).
    struct Fields {
        let node: YAMLNode
        let path: String
        func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        subscript(key: String) -> YAMLNode? { node[key] }
    }

    /// Checks that `node` is a mapping whose keys are all in `allowed`; reports each unknown key with a
    /// suggestion. Returns nil when the node is not a mapping.
    func mapping(_ node: YAMLNode, path: String, allowed: [String], what: String) -> Fields? {
        guard let pairs = node.pairs else {
            diagnostics.error(
                "wrong-type", at: node.location, field: path,
                "expected \(what) as a map of fields, found a \(node.typeName)",
                hint: "write it as 'key: value' lines")
            return nil
        }
        for pair in pairs where !allowed.contains(pair.key) {
            let fieldPath = path.isEmpty ? pair.key : "\(path).\(pair.key)"
            var hint = "allowed fields here: \(allowed.joined(separator: ", "))"
            if let guess = Spelling.closest(to: pair.key, in: allowed) {
                hint = "did you mean '\(guess)'? (\(hint))"
            }
            diagnostics.error(
                "unknown-field", at: pair.keyLocation, field: fieldPath, "unknown field '\(pair.key)' in \(what)",
                hint: hint)
        }
        return Fields(node: node, path: path)
    }

    func missing(_ fields: Fields, _ key: String, what: String, hint: String) {
        diagnostics.error(
            "missing-field", at: fields.node.location, field: fields.field(key),
            "required field '\(key)' is missing from \(what)", hint: hint)
    }

    /// A text field. Numbers and booleans written without quotes are accepted as their text when
    /// `acceptScalars` is true (versions such as `1.4`), otherwise reported.
    func string(
        _ fields: Fields, _ key: String, required: Bool = false, what: String, hint: String = "",
        acceptScalars: Bool = false
    ) -> String? {
        guard let node = fields[key], !node.isNull else {
            if required { missing(fields, key, what: what, hint: hint) }
            return nil
        }
        return string(node, field: fields.field(key), acceptScalars: acceptScalars)
    }

    func string(_ node: YAMLNode, field: String, acceptScalars: Bool = false) -> String? {
        guard let scalar = node.scalar else {
            diagnostics.error(
                "wrong-type", at: node.location, field: field, "expected text, found a \(node.typeName)",
                hint: "write a single value")
            return nil
        }
        switch scalar.resolved {
        case .string(let s): return s
        case .null: return nil
        default:
            if acceptScalars || scalar.quoted { return scalar.text }
            diagnostics.error(
                "wrong-type", at: node.location, field: field,
                "expected text, found the \(scalar.resolved.typeName) \(scalar.text)",
                hint: "put it in quotes: \"\(scalar.text)\"")
            return nil
        }
    }

    func int(_ fields: Fields, _ key: String, what: String) -> Int? {
        guard let node = fields[key], !node.isNull else { return nil }
        if case .int(let i) = node.value { return i }
        diagnostics.error(
            "wrong-type", at: node.location, field: fields.field(key),
            "expected a whole number, found a \(node.typeName)", hint: "write a number such as 1")
        return nil
    }

    func bool(_ fields: Fields, _ key: String) -> Bool? {
        guard let node = fields[key], !node.isNull else { return nil }
        if case .bool(let b) = node.value { return b }
        diagnostics.error(
            "wrong-type", at: node.location, field: fields.field(key),
            "expected true or false, found \(node.scalar.map { "'\($0.text)'" } ?? "a \(node.typeName)")",
            hint: "write true or false")
        return nil
    }

    /// A list node; a missing key yields an empty list.
    func list(_ fields: Fields, _ key: String, required: Bool = false, what: String, hint: String = "") -> [YAMLNode] {
        guard let node = fields[key], !node.isNull else {
            if required { missing(fields, key, what: what, hint: hint) }
            return []
        }
        guard let items = node.items else {
            diagnostics.error(
                "wrong-type", at: node.location, field: fields.field(key),
                "expected a list, found a \(node.typeName)", hint: "write it as '[a, b]' or as '- item' lines")
            return []
        }
        return items
    }

    func stringList(_ fields: Fields, _ key: String, required: Bool = false, what: String, hint: String = "")
        -> [(String, SourceLocation)]
    {
        list(fields, key, required: required, what: what, hint: hint).enumerated().compactMap { index, node in
            string(node, field: "\(fields.field(key))[\(index)]", acceptScalars: true).map { ($0, node.location) }
        }
    }

    /// A free-form map (config, values): any keys, any values.
    func freeMap(_ fields: Fields, _ key: String) -> YAMLNode? {
        guard let node = fields[key], !node.isNull else { return nil }
        guard node.pairs != nil else {
            diagnostics.error(
                "wrong-type", at: node.location, field: fields.field(key),
                "expected a map, found a \(node.typeName)", hint: "write it as 'key: value' lines")
            return nil
        }
        return node
    }

    func duration(_ fields: Fields, _ key: String, required: Bool = false, what: String) -> TimeSpan? {
        guard let node = fields[key], !node.isNull else {
            if required { missing(fields, key, what: what, hint: "write a duration such as 6h, 90m or 1h30m") }
            return nil
        }
        guard let text = string(node, field: fields.field(key), acceptScalars: true) else { return nil }
        do {
            return try TimeSpan(parsing: text)
        } catch {
            diagnostics.error(
                "bad-duration", at: node.location, field: fields.field(key), "'\(text)' is not a duration",
                hint: "use numbers with units d, h, m, s — e.g. 6h, 45m, 1h30m, 2d")
            return nil
        }
    }
}

/// Suggests the nearest known word for a misspelt one.
enum Spelling {
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
