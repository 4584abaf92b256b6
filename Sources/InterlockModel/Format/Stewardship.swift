/// Who is accountable for a component: an in-house team or a vendor's support, how to reach them, and under which
/// contract or ticket. Shown on every change that touches the component (and its files).
public struct Ownership: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case inHouse = "in-house"
        case vendor
    }

    public var name: String
    public var kind: Kind
    public var contact: String?
    /// A support contract or ticket reference (`TotalCare 4711`, `SR-2291`).
    public var contract: String?

    public init(name: String, kind: Kind, contact: String? = nil, contract: String? = nil) {
        self.name = name
        self.kind = kind
        self.contact = contact
        self.contract = contract
    }

    /// As stored in the canonical content of a component.
    public var value: Value {
        var object: [String: Value] = ["name": .string(name), "kind": .string(kind.rawValue)]
        if let contact { object["contact"] = .string(contact) }
        if let contract { object["contract"] = .string(contract) }
        return .object(object)
    }

    public init?(value: Value?) {
        guard let object = value?.objectValue, let name = object["name"]?.stringValue,
              let kind = object["kind"]?.stringValue.flatMap(Kind.init(rawValue:)) else { return nil }
        self.init(name: name, kind: kind, contact: object["contact"]?.stringValue, contract: object["contract"]?.stringValue)
    }

    /// `Controls engineering (in-house) · controls@plant-a.example · contract SR-2291`.
    public var line: String {
        var parts = ["\(name) (\(kind == .vendor ? "vendor support" : "in-house"))"]
        if let contact { parts.append(contact) }
        if let contract { parts.append("contract \(contract)") }
        return parts.joined(separator: " · ")
    }

    static let fields = ["name", "kind", "contact", "contract"]

    static func read(_ node: YAMLNode, field: String, what: String, reader: FieldReader) -> Ownership? {
        guard let fields = reader.mapping(node, path: field, allowed: Self.fields, what: "the owner of \(what)") else { return nil }
        let name = reader.string(fields, "name", required: true, what: "the owner of \(what)", hint: "add 'name: <team or vendor support>'")
        let kindText = reader.string(fields, "kind", required: true, what: "the owner of \(what)", hint: "add 'kind: in-house' or 'kind: vendor'")
        var kind: Kind?
        if let kindText {
            kind = Kind(rawValue: kindText)
            if kind == nil {
                reader.diagnostics.error(
                    "bad-owner-kind", at: fields["kind"]!.location, field: fields.field("kind"),
                    "'\(kindText)' is not a kind of owner", hint: "write 'in-house' (a team of the plant or company) or 'vendor' (the vendor's support)")
            }
        }
        let contact = reader.string(fields, "contact", what: "the owner of \(what)", acceptScalars: true)
        let contract = reader.string(fields, "contract", what: "the owner of \(what)", acceptScalars: true)
        guard let name, let kind else { return nil }
        if name.isEmpty {
            reader.diagnostics.error("missing-field", at: fields["name"]!.location, field: fields.field("name"), "the owner's name is empty", hint: "name the accountable team or vendor support")
            return nil
        }
        return Ownership(name: name, kind: kind, contact: contact, contract: contract)
    }
}

/// What a component or brick touches on the shop floor: production lines, assets (machines) and areas.
public struct Affects: Sendable, Hashable {
    public var lines: [String]
    public var assets: [String]
    public var areas: [String]

    public init(lines: [String] = [], assets: [String] = [], areas: [String] = []) {
        self.lines = lines
        self.assets = assets
        self.areas = areas
    }

    public var isEmpty: Bool { lines.isEmpty && assets.isEmpty && areas.isEmpty }

    /// As stored in canonical content: only the non-empty lists.
    public var value: Value {
        var object: [String: Value] = [:]
        if !lines.isEmpty { object["lines"] = .array(lines.map(Value.string)) }
        if !assets.isEmpty { object["assets"] = .array(assets.map(Value.string)) }
        if !areas.isEmpty { object["areas"] = .array(areas.map(Value.string)) }
        return .object(object)
    }

    public init(value: Value?) {
        let object = value?.objectValue ?? [:]
        func list(_ key: String) -> [String] { (object[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        self.init(lines: list("lines"), assets: list("assets"), areas: list("areas"))
    }

    /// Both, each list in first-seen order without repeats.
    public func union(_ other: Affects) -> Affects {
        func merge(_ a: [String], _ b: [String]) -> [String] {
            var seen = Set<String>()
            return (a + b).filter { seen.insert($0).inserted }
        }
        return Affects(lines: merge(lines, other.lines), assets: merge(assets, other.assets), areas: merge(areas, other.areas))
    }

    /// `lines Line 1, Line 2 · asset Press P-07 · area Packaging`.
    public var line: String {
        var parts: [String] = []
        if !lines.isEmpty { parts.append((lines.count == 1 ? "line " : "lines ") + lines.joined(separator: ", ")) }
        if !assets.isEmpty { parts.append((assets.count == 1 ? "asset " : "assets ") + assets.joined(separator: ", ")) }
        if !areas.isEmpty { parts.append((areas.count == 1 ? "area " : "areas ") + areas.joined(separator: ", ")) }
        return parts.joined(separator: " · ")
    }

    static let fields = ["lines", "assets", "areas"]

    static func read(_ node: YAMLNode, field: String, what: String, reader: FieldReader) -> Affects? {
        guard let fields = reader.mapping(node, path: field, allowed: Self.fields, what: "what \(what) affects") else { return nil }
        func names(_ key: String) -> [String] {
            var seen = Set<String>()
            var result: [String] = []
            for (name, location) in reader.stringList(fields, key, what: "what \(what) affects") {
                if name.isEmpty {
                    reader.diagnostics.error("empty-name", at: location, field: fields.field(key), "an empty name in '\(key)'", hint: "name the \(key.dropLast()) as people on the floor call it")
                } else if seen.insert(name).inserted {
                    result.append(name)
                }
            }
            return result
        }
        let affects = Affects(lines: names("lines"), assets: names("assets"), areas: names("areas"))
        if affects.isEmpty {
            reader.diagnostics.error(
                "empty-affects", at: node.location, field: field, "'affects' of \(what) names nothing",
                hint: "list 'lines', 'assets' or 'areas', or remove 'affects'")
            return nil
        }
        return affects
    }
}
