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
        if d == d.rounded(), abs(d) < 1e15 {  // what "%.1f" prints, without the formatter
            return (d == 0 && d.sign == .minus ? "-" : "") + String(Int(d)) + ".0"
        }
        return "\(d)"
    }
}

// MARK: - JSON

extension Value {
    /// Compact JSON with keys sorted by their UTF-8 bytes and no insignificant whitespace:
    /// the canonical form hashed for content identity. Stable across runs and machines.
    public var canonicalJSON: String { String(decoding: canonicalJSONBytes, as: UTF8.self) }

    /// `canonicalJSON` as UTF-8 bytes, without building a String first.
    public var canonicalJSONBytes: [UInt8] {
        var writer = JSONWriter(indent: nil)
        writer.write(self, level: 0)
        return writer.bytes
    }

    /// Human-readable JSON, two-space indented, keys sorted, trailing newline.
    public var prettyJSON: String { String(decoding: prettyJSONBytes, as: UTF8.self) }

    /// `prettyJSON` as UTF-8 bytes.
    public var prettyJSONBytes: [UInt8] {
        var writer = JSONWriter(indent: 2)
        writer.write(self, level: 0)
        writer.bytes.append(UInt8(ascii: "\n"))
        return writer.bytes
    }

    /// Keys order by their UTF-8 bytes, independent of locale.
    static func keyOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
}

/// Writes JSON straight into a byte buffer: strings are copied as UTF-8 runs, escaping only what JSON requires.
struct JSONWriter {
    /// Spaces per level; nil writes compact JSON.
    let indent: Int?
    var bytes: [UInt8] = []

    init(indent: Int?) {
        self.indent = indent
        bytes.reserveCapacity(256)
    }

    mutating func write(_ value: Value, level: Int) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .int(let i): append(String(i))
        case .double(let d): append(d.isFinite ? Value.format(d) : "null")
        case .string(let s): writeString(s)
        case .array(let array):
            if array.isEmpty { append("[]"); return }
            bytes.append(UInt8(ascii: "["))
            for (i, element) in array.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(level + 1)
                write(element, level: level + 1)
            }
            newline(level)
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty { append("{}"); return }
            bytes.append(UInt8(ascii: "{"))
            for (i, entry) in object.sorted(by: { Value.keyOrder($0.key, $1.key) }).enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(level + 1)
                writeString(entry.key)
                if indent == nil { bytes.append(UInt8(ascii: ":")) } else { append(": ") }
                write(entry.value, level: level + 1)
            }
            newline(level)
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    private mutating func newline(_ level: Int) {
        guard let indent else { return }
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
                default:
                    append("u00")
                    bytes.append(JSONWriter.hexDigits[Int(byte >> 4)])
                    bytes.append(JSONWriter.hexDigits[Int(byte & 0x0F)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
