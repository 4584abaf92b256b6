import Foundation

/// A structured value as it appears in configuration: the JSON data model.
///
/// Objects keep their keys sorted (`[String: Value]` rendered in key order), so two values that differ
/// only in the order their keys were written are equal and serialise to the same bytes.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    case object([String: Value])

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var objectValue: [String: Value]? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [Value]? { if case .array(let a) = self { a } else { nil } }

    /// The name of the value's type as users know it from YAML: `string`, `map`, `list`, ….
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "list"
        case .object: "map"
        }
    }

    /// Follows a dotted path (`a.b.c`; list elements by index `items.0`).
    public func lookup(_ path: [Substring]) -> Value? {
        var current = self
        for component in path {
            switch current {
            case .object(let object):
                guard let next = object[String(component)] else { return nil }
                current = next
            case .array(let array):
                guard let index = Int(component), array.indices.contains(index) else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }

    /// The text used when the value is interpolated into a string: scalars as written, structures as compact JSON.
    public var interpolationText: String {
        switch self {
        case .null: ""
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): Value.format(d)
        case .string(let s): s
        case .array, .object: canonicalJSON
        }
    }

    static func format(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == d.rounded(), abs(d) < 1e15 { return String(format: "%.1f", d) }
        return "\(d)"
    }
}

// MARK: - JSON

extension Value {
    /// Compact JSON with keys sorted by their UTF-8 bytes and no insignificant whitespace:
    /// the canonical form hashed for content identity. Stable across runs and machines.
    public var canonicalJSON: String {
        var out = ""
        writeJSON(into: &out, indent: nil, level: 0)
        return out
    }

    /// Human-readable JSON, two-space indented, keys sorted, trailing newline.
    public var prettyJSON: String {
        var out = ""
        writeJSON(into: &out, indent: "  ", level: 0)
        return out + "\n"
    }

    private func writeJSON(into out: inout String, indent: String?, level: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite { out += Value.format(d) } else { out += "null" }
        case .string(let s): Value.writeJSONString(s, into: &out)
        case .array(let array):
            if array.isEmpty { out += "[]"; return }
            out += "["
            for (i, element) in array.enumerated() {
                if i > 0 { out += "," }
                Value.newline(&out, indent, level + 1)
                element.writeJSON(into: &out, indent: indent, level: level + 1)
            }
            Value.newline(&out, indent, level)
            out += "]"
        case .object(let object):
            if object.isEmpty { out += "{}"; return }
            out += "{"
            for (i, key) in object.keys.sorted(by: Value.keyOrder).enumerated() {
                if i > 0 { out += "," }
                Value.newline(&out, indent, level + 1)
                Value.writeJSONString(key, into: &out)
                out += indent == nil ? ":" : ": "
                object[key]!.writeJSON(into: &out, indent: indent, level: level + 1)
            }
            Value.newline(&out, indent, level)
            out += "}"
        }
    }

    /// Keys order by their UTF-8 bytes, independent of locale.
    static func keyOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    private static func newline(_ out: inout String, _ indent: String?, _ level: Int) {
        guard let indent else { return }
        out += "\n"
        for _ in 0..<level { out += indent }
    }

    static func writeJSONString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
