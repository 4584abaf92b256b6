/// A YAML document tree that remembers where every node was written.
///
/// Scalars keep their original text and whether they were quoted, so the reader can tell `"0644"` from
/// `0644` and report exact lines. Mapping keys are always strings.
public struct YAMLNode: Sendable, Hashable {
    public indirect enum Kind: Sendable, Hashable {
        case scalar(YAMLScalar)
        case mapping([YAMLPair])
        case sequence([YAMLNode])
    }

    public var kind: Kind { didSet { containsDollar = YAMLNode.containsDollar(kind) } }
    public var location: SourceLocation
    /// Whether any scalar in this subtree contains `$`: subtrees without one have nothing to interpolate.
    public private(set) var containsDollar: Bool

    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
        containsDollar = YAMLNode.containsDollar(kind)
    }

    private static func containsDollar(_ kind: Kind) -> Bool {
        switch kind {
        case .scalar(let scalar): scalar.text.utf8.contains(UInt8(ascii: "$"))
        case .mapping(let pairs): pairs.contains { $0.value.containsDollar }
        case .sequence(let items): items.contains { $0.containsDollar }
        }
    }

    public var scalar: YAMLScalar? { if case .scalar(let s) = kind { s } else { nil } }
    public var pairs: [YAMLPair]? { if case .mapping(let p) = kind { p } else { nil } }
    public var items: [YAMLNode]? { if case .sequence(let i) = kind { i } else { nil } }
    public var isNull: Bool { scalar?.resolved == .null }

    /// The value at `key` in a mapping.
    public subscript(key: String) -> YAMLNode? { pairs?.first { $0.key == key }?.value }

    /// What the user would call this node's type.
    public var typeName: String {
        switch kind {
        case .scalar(let s): s.resolved.typeName
        case .mapping: "map"
        case .sequence: "list"
        }
    }

    /// The node as a plain value (YAML 1.2 core schema for unquoted scalars).
    public var value: Value {
        switch kind {
        case .scalar(let s): return s.resolved
        case .mapping(let pairs):
            var object: [String: Value] = [:]
            object.reserveCapacity(pairs.count)
            for index in pairs.indices { object[pairs[index].key] = pairs[index].value.value }  // no copy of each pair
            return .object(object)
        case .sequence(let items): return .array(items.map(\.value))
        }
    }

    /// Builds a node from a plain value, placing every part at `location`.
    public init(value: Value, at location: SourceLocation) {
        self.location = location
        containsDollar = false
        defer { containsDollar = YAMLNode.containsDollar(kind) }
        switch value {
        case .null: kind = .scalar(YAMLScalar(text: "null", quoted: false))
        case .bool(let b): kind = .scalar(YAMLScalar(text: b ? "true" : "false", quoted: false))
        case .int(let i): kind = .scalar(YAMLScalar(text: String(i), quoted: false))
        case .double(let d): kind = .scalar(YAMLScalar(text: Value.format(d), quoted: false))
        case .string(let s): kind = .scalar(YAMLScalar(text: s, quoted: true))
        case .array(let items): kind = .sequence(items.map { YAMLNode(value: $0, at: location) })
        case .object(let object):
            kind = .mapping(object.keys.sorted().map {
                YAMLPair(key: $0, keyLocation: location, value: YAMLNode(value: object[$0]!, at: location))
            })
        }
    }
}

/// One `key: value` entry of a mapping.
public struct YAMLPair: Sendable, Hashable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: YAMLNode

    public init(key: String, keyLocation: SourceLocation, value: YAMLNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}

/// A scalar exactly as written.
public struct YAMLScalar: Sendable, Hashable {
    public var text: String
    /// Quoted or block scalars are always strings.
    public var quoted: Bool

    public init(text: String, quoted: Bool) {
        self.text = text
        self.quoted = quoted
    }

    /// The value under the YAML 1.2 core schema: `yes`/`no` stay strings, `2026-12-20` stays a string.
    public var resolved: Value {
        if quoted { return .string(text) }
        return YAMLScalar.resolvePlain(text)
    }

    static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE": true
        case "false", "False", "FALSE": false
        default: nil
        }
    }

    static func resolvePlain(_ text: String) -> Value {
        // Every null, boolean and special-number spelling has at most five bytes.
        if text.utf8.count <= 5 {
            switch text {
            case "", "~", "null", "Null", "NULL": return .null
            case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
            case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
            case ".nan", ".NaN", ".NAN": return .double(.nan)
            default: break
            }
            if let b = bool(text) { return .bool(b) }
        }
        guard let first = text.utf8.first,
              first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
        else { return .string(text) }
        if text.hasPrefix("0x"), let i = Int(text.dropFirst(2), radix: 16) { return .int(i) }
        if text.hasPrefix("0o"), let i = Int(text.dropFirst(2), radix: 8) { return .int(i) }
        if isDecimalInteger(text), let i = Int(text) { return .int(i) }
        if isFloat(text), let d = Double(text) { return .double(d) }
        return .string(text)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// `[-+]? [0-9]+`
    private static func isDecimalInteger(_ text: String) -> Bool {
        var digits = Substring(text).utf8[...]
        if let sign = digits.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy(isDigit)
    }

    /// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
    private static func isFloat(_ text: String) -> Bool {
        var chars = Substring(text).utf8[...]
        if let sign = chars.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { chars = chars.dropFirst() }
        var mantissaDigits = 0
        var sawDot = false
        while let c = chars.first, isDigit(c) || (c == UInt8(ascii: ".") && !sawDot) {
            if c == UInt8(ascii: ".") { sawDot = true } else { mantissaDigits += 1 }
            chars = chars.dropFirst()
        }
        guard mantissaDigits > 0 else { return false }
        if chars.isEmpty { return sawDot }
        guard chars.first == UInt8(ascii: "e") || chars.first == UInt8(ascii: "E") else { return false }
        chars = chars.dropFirst()
        if let sign = chars.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { chars = chars.dropFirst() }
        return !chars.isEmpty && chars.allSatisfy(isDigit)
    }
}
