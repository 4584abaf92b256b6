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
    /// Subtrees without a reference are returned as they are, not copied.
    func apply(_ node: YAMLNode, field: String, diagnostics: inout Diagnostics) -> YAMLNode {
        var path: [FieldStep] = field.isEmpty ? [] : [.key(field)]
        return rewrite(node, path: &path, diagnostics: &diagnostics) ?? node
    }

    /// One step of the field path, rendered only when a reference fails.
    private enum FieldStep {
        case key(String)
        case index(Int)
    }

    /// `config.mqtt.topics[2]`, as the field of a diagnostic.
    private static func render(_ path: [FieldStep]) -> String {
        var field = ""
        for step in path {
            switch step {
            case .key(let key): field = field.isEmpty ? key : "\(field).\(key)"
            case .index(let index): field += "[\(index)]"
            }
        }
        return field
    }

    /// The interpolated node, or nil when nothing in it changes.
    private func rewrite(_ node: YAMLNode, path: inout [FieldStep], diagnostics: inout Diagnostics) -> YAMLNode? {
        guard node.containsDollar else { return nil }
        switch node.kind {
        case .scalar(let scalar):
            guard case .string = scalar.resolved else { return nil }
            do {
                let value = try interpolate(scalar.text)
                if case .string(let text) = value {
                    return YAMLNode(.scalar(YAMLScalar(text: text, quoted: true)), at: node.location)
                }
                return YAMLNode(value: value, at: node.location)
            } catch let failure as Failure {
                diagnostics.error(
                    "undefined-value", at: node.location, field: Interpolator.render(path),
                    "for site \(siteName): \(failure.message)", hint: failure.hint)
                return nil
            } catch {
                return nil
            }
        case .mapping(let pairs):
            // By index, and only into children with a reference: most are skipped without copying their pair.
            var rewritten: [YAMLPair]?
            for index in pairs.indices where pairs[index].value.containsDollar {
                path.append(.key(pairs[index].key))
                let value = rewrite(pairs[index].value, path: &path, diagnostics: &diagnostics)
                path.removeLast()
                guard let value else { continue }
                if rewritten == nil { rewritten = pairs }
                rewritten![index].value = value
            }
            return rewritten.map { YAMLNode(.mapping($0), at: node.location) }
        case .sequence(let items):
            var rewritten: [YAMLNode]?
            for index in items.indices where items[index].containsDollar {
                path.append(.index(index))
                let value = rewrite(items[index], path: &path, diagnostics: &diagnostics)
                path.removeLast()
                guard let value else { continue }
                if rewritten == nil { rewritten = items }
                rewritten![index] = value
            }
            return rewritten.map { YAMLNode(.sequence($0), at: node.location) }
        }
    }

    /// Interpolates text, reporting each bad reference with the line it is on (counted from `firstLine`).
    func apply(text: String, file: String, field: String, diagnostics: inout Diagnostics) -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        let newline = UInt8(ascii: "\n"), dollar = UInt8(ascii: "$")
        var output: [UInt8] = []
        var text = text
        text.withUTF8 { bytes in
            output.reserveCapacity(bytes.count + 64)
            var lineNumber = 0
            var start = 0
            while start <= bytes.count {  // a text ending in a newline ends with an empty line, as it should
                let end = bytes[start...].firstIndex(of: newline) ?? bytes.count
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                lineNumber += 1
                if lineNumber > 1 { output.append(newline) }
                if line.contains(dollar) {
                    do {
                        output.append(contentsOf: try interpolate(String(decoding: line, as: UTF8.self)).interpolationText.utf8)
                    } catch let failure as Failure {
                        diagnostics.error(
                            "undefined-value", at: SourceLocation(file: file, line: lineNumber), field: field,
                            "for site \(siteName): \(failure.message)", hint: failure.hint)
                        output.append(contentsOf: line)
                    } catch {
                        output.append(contentsOf: line)
                    }
                } else {
                    output.append(contentsOf: line)
                }
                start = end + 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Interpolates one string. Exactly one reference and nothing else yields the referenced value itself.
    func interpolate(_ text: String) throws -> Value {
        var utf8 = text
        return try utf8.withUTF8 { bytes in
            let dollar = UInt8(ascii: "$"), open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count + 16)
            var soleValue: Value?
            var pieces = 0
            var index = 0, runStart = 0
            while index < bytes.count {
                guard bytes[index] == dollar else {
                    index += 1
                    continue
                }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                let next = index + 1 < bytes.count ? bytes[index + 1] : 0
                if next == dollar, index + 2 < bytes.count, bytes[index + 2] == open {  // `$${` writes `${`
                    output.append(contentsOf: [dollar, open])
                    pieces += 1
                    index += 3
                } else if next == open {
                    guard let closing = bytes[(index + 2)...].firstIndex(of: close) else {
                        throw Failure(
                            reference: String(decoding: UnsafeBufferPointer(rebasing: bytes[(index + 1)...]), as: UTF8.self),
                            message: "'${' is not closed in \"\(text)\"", hint: "close the reference with '}', or write '$${' for a literal '${'")
                    }
                    let value = try resolve(Interpolator.reference(UnsafeBufferPointer(rebasing: bytes[(index + 2)..<closing])))
                    soleValue = output.isEmpty && pieces == 0 ? value : nil
                    pieces += 1
                    output.append(contentsOf: value.interpolationText.utf8)
                    index = closing + 1
                } else {
                    output.append(dollar)
                    index += 1
                }
                runStart = index
            }
            if runStart < bytes.count {
                soleValue = nil
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
            }
            if pieces == 1, let soleValue { return soleValue }
            return .string(String(decoding: output, as: UTF8.self))
        }
    }

    /// The text between `${` and `}`, without surrounding white space.
    private static func reference(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        // Only a space, a tab or a non-ASCII character can be white space; skip Foundation when neither end is one.
        func plain(_ byte: UInt8) -> Bool { byte < 0x80 && byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") }
        if let first = bytes.first, let last = bytes.last, plain(first), plain(last) { return text }
        return text.trimmingCharacters(in: .whitespaces)
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
