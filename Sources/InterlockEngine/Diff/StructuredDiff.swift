import InterlockModel

/// Differences between two structured values, as paths with old and new values:
/// `config.interval 5s → 1s`, `config.tls added = true`, `config.retained removed`.
/// Key order never counts; lists compare element by element.
public enum StructuredDiff {
    public struct Change: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable { case added, removed, changed }
        public var path: String
        public var kind: Kind
        public var old: Value?
        public var new: Value?

        public var description: String {
            switch kind {
            case .changed: "\(path) \(StructuredDiff.short(old!)) → \(StructuredDiff.short(new!))"
            case .added: "\(path) added = \(StructuredDiff.short(new!))"
            case .removed: "\(path) removed (was \(StructuredDiff.short(old!)))"
            }
        }
    }

    /// Every leaf difference between `old` and `new`, paths prefixed with `prefix`.
    public static func changes(from old: Value, to new: Value, prefix: String = "") -> [Change] {
        if old == new { return [] }
        switch (old, new) {
        case (.object(let a), .object(let b)):
            var result: [Change] = []
            for key in Set(a.keys).union(b.keys).sorted() {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                switch (a[key], b[key]) {
                case (let x?, let y?): result += changes(from: x, to: y, prefix: path)
                case (let x?, nil): result.append(Change(path: path, kind: .removed, old: x, new: nil))
                case (nil, let y?): result.append(Change(path: path, kind: .added, old: nil, new: y))
                case (nil, nil): break
                }
            }
            return result
        case (.array(let a), .array(let b)) where a.count == b.count:
            return zip(a, b).enumerated().flatMap { changes(from: $1.0, to: $1.1, prefix: "\(prefix)[\($0)]") }
        default:
            return [Change(path: prefix.isEmpty ? "value" : prefix, kind: .changed, old: old, new: new)]
        }
    }

    /// A value as shown in a change line: text as is, structures as compact JSON, long values cut.
    static func short(_ value: Value) -> String {
        let text: String = switch value {
        case .string(let s): s.isEmpty ? "\"\"" : s
        default: value.canonicalJSON
        }
        let oneLine = text.replacingOccurrences(of: "\n", with: "⏎")
        return oneLine.count > 80 ? String(oneLine.prefix(77)) + "…" : oneLine
    }
}
