/// Replaces `${scope.path}` references in strings with values from a scope.
///
/// Scopes: `values` (the site's values), `site` (`name`, `displayName`, `timezone`), `config` (the
/// component's own config) and `component`/`flow` (`name`, `version`). `$${` writes a literal `${`.
/// A string that consists of exactly one reference takes the referenced value's type.
struct Interpolator {
    var scope: [String: Value]
    /// Site name for messages.
    var siteName: String

    struct Failure: Error {
        var reference: String
        var message: String
        var hint: String
    }

    /// Interpolates every string scalar in a node tree, reporting each bad reference at its location.
    func apply(_ node: YAMLNode, field: String, diagnostics: inout Diagnostics) -> YAMLNode {
        switch node.kind {
        case .scalar(let scalar):
            guard scalar.text.contains("$"), case .string = scalar.resolved else { return node }
            do {
                let value = try interpolate(scalar.text)
                if case .string(let text) = value {
                    return YAMLNode(.scalar(YAMLScalar(text: text, quoted: true)), at: node.location)
                }
                return YAMLNode(value: value, at: node.location)
            } catch let failure as Failure {
                diagnostics.error(
                    "undefined-value", at: node.location, field: field,
                    "for site \(siteName): \(failure.message)", hint: failure.hint)
                return node
            } catch {
                return node
            }
        case .mapping(let pairs):
            return YAMLNode(.mapping(pairs.map {
                YAMLPair(key: $0.key, keyLocation: $0.keyLocation,
                         value: apply($0.value, field: field.isEmpty ? $0.key : "\(field).\($0.key)", diagnostics: &diagnostics))
            }), at: node.location)
        case .sequence(let items):
            return YAMLNode(.sequence(items.enumerated().map {
                apply($1, field: "\(field)[\($0)]", diagnostics: &diagnostics)
            }), at: node.location)
        }
    }

    /// Interpolates text, reporting each bad reference with the line it is on (counted from `firstLine`).
    func apply(text: String, file: String, field: String, diagnostics: inout Diagnostics) -> String {
        var output = ""
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if lineNumber > 1 { output += "\n" }
            guard line.contains("$") else {
                output += line
                continue
            }
            do {
                output += try interpolate(String(line)).interpolationText
            } catch let failure as Failure {
                diagnostics.error(
                    "undefined-value", at: SourceLocation(file: file, line: lineNumber), field: field,
                    "for site \(siteName): \(failure.message)", hint: failure.hint)
                output += line
            } catch {
                output += line
            }
        }
        return output
    }

    /// Interpolates one string. Exactly one reference and nothing else yields the referenced value itself.
    func interpolate(_ text: String) throws -> Value {
        var output = ""
        var soleValue: Value?
        var pieces = 0
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.hasPrefix("${") {
                output += "${"
                rest = after.dropFirst(2)
                pieces += 1
                continue
            }
            guard after.hasPrefix("{") else {
                output += "$"
                rest = after
                continue
            }
            guard let close = after.firstIndex(of: "}") else {
                throw Failure(reference: String(after), message: "'${' is not closed in \"\(text)\"", hint: "close the reference with '}', or write '$${' for a literal '${'")
            }
            let reference = String(after[after.index(after: after.startIndex)..<close]).trimmingCharacters(in: .whitespaces)
            let value = try resolve(reference)
            if output.isEmpty, pieces == 0 { soleValue = value } else { soleValue = nil }
            pieces += 1
            output += value.interpolationText
            rest = after[after.index(after: close)...]
        }
        if !rest.isEmpty {
            soleValue = nil
            output += rest
        }
        if pieces == 1, let soleValue { return soleValue }
        return .string(output)
    }

    private func resolve(_ reference: String) throws -> Value {
        let parts = reference.split(separator: ".", omittingEmptySubsequences: false)
        guard let head = parts.first, !head.isEmpty, let root = scope[String(head)] else {
            let known = scope.keys.sorted().joined(separator: ", ")
            throw Failure(
                reference: reference, message: "'${\(reference)}' does not name a known scope",
                hint: "references start with one of: \(known)")
        }
        guard parts.count > 1, let value = root.lookup(Array(parts.dropFirst())) else {
            let available = root.objectValue.map { $0.keys.sorted().joined(separator: ", ") } ?? ""
            var hint = "define it in sites/\(siteName)/site.yaml under '\(head)'"
            if head != "values" { hint = "available under '\(head)': \(available)" }
            else if let guess = Spelling.closest(to: String(parts.last ?? ""), in: root.objectValue.map { Array($0.keys) } ?? []) {
                hint += ", or did you mean '${values.\(guess)}'?"
            }
            throw Failure(reference: reference, message: "'${\(reference)}' is not defined", hint: hint)
        }
        return value
    }
}
