import Foundation
import Yams
@testable import InterlockModel

/// The reader `YAMLDocument.parse` replaced: `Yams.compose` into a `Yams.Node` tree, then converted. Several times
/// slower and far more allocating; the tests compare `parse` against it.
extension YAMLDocument {
    static func parseWithYamsCompose(_ data: Data, file: String, diagnostics: inout Diagnostics) -> YAMLNode? {
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.error(
                "not-utf8", at: SourceLocation(file: file), "the file is not valid UTF-8 text",
                hint: "save it as UTF-8")
            return nil
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            diagnostics.append(diagnostic(for: error, file: file))
            return nil
        } catch {
            diagnostics.error("yaml-syntax", at: SourceLocation(file: file), "\(error)")
            return nil
        }
        guard let node else {
            return YAMLNode(.mapping([]), at: SourceLocation(file: file, line: 1, column: 1))
        }
        return convert(node, file: file, diagnostics: &diagnostics)
    }

    private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line, column: mark?.column)
    }

    private static func convert(_ node: Node, file: String, diagnostics: inout Diagnostics) -> YAMLNode {
        let here = location(node.mark, file)
        switch node {
        case .scalar(let scalar):
            let quoted = scalar.style != .plain && scalar.style != .any
            return YAMLNode(.scalar(YAMLScalar(text: scalar.string, quoted: quoted)), at: here)
        case .mapping(let mapping):
            var pairs: [YAMLPair] = []
            var seen: [String: SourceLocation] = [:]
            for (key, value) in mapping {
                let keyLocation = location(key.mark, file)
                guard case .scalar(let keyScalar) = key else {
                    diagnostics.error(
                        "yaml-complex-key", at: keyLocation, "a map key must be a plain text, not a \(key.isMapping ? "map" : "list")",
                        hint: "write the key as text")
                    continue
                }
                let keyText = keyScalar.string
                if let first = seen[keyText] {
                    diagnostics.error(
                        "duplicate-key", at: keyLocation, field: keyText,
                        "the key '\(keyText)' appears twice in this map (first at line \(first.line ?? 0))",
                        hint: "remove or merge one of them")
                    continue
                }
                seen[keyText] = keyLocation
                pairs.append(YAMLPair(
                    key: keyText, keyLocation: keyLocation,
                    value: convert(value, file: file, diagnostics: &diagnostics)))
            }
            return YAMLNode(.mapping(pairs), at: here)
        case .sequence(let sequence):
            return YAMLNode(.sequence(sequence.map { convert($0, file: file, diagnostics: &diagnostics) }), at: here)
        case .alias:
            return YAMLNode(.scalar(YAMLScalar(text: "", quoted: false)), at: here)
        }
    }

    private static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        let hint = "fix the YAML syntax (indentation, a missing ':' or an unclosed quote)"
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return Diagnostic("yaml-syntax", at: location(mark, file), message, hint: hint)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return Diagnostic(
                "duplicate-key", at: location(context.mark, file),
                "the key(s) \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) appear more than once in one map",
                hint: "remove or merge the duplicates")
        case .reader(let problem, _, _, _):
            return Diagnostic("yaml-syntax", at: location(nil, file), "YAML reader error: \(problem)", hint: hint)
        default:
            return Diagnostic("yaml-syntax", at: location(nil, file), "YAML error: \(error)", hint: hint)
        }
    }
}

extension Node {
    fileprivate var isMapping: Bool { if case .mapping = self { true } else { false } }
}
