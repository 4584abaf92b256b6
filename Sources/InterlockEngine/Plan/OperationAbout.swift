import Foundation
import InterlockModel

/// What a person reviewing an operation needs besides the diff, taken from the desired state when the plan was made:
/// the component it belongs to (vendor, product, version), its description, who is accountable for it, and the lines,
/// assets and areas it touches. Not part of the plan's identity (the content hashes already cover the desired state).
public struct OperationAbout: Sendable, Hashable {
    /// The component the operation belongs to (itself, or the one rendering the file).
    public var component: String?
    /// `Eclipse Foundation Mosquitto 2.0.18`.
    public var product: String?
    public var description: String?
    public var owner: Ownership?
    public var affects: Affects

    public init(component: String? = nil, product: String? = nil, description: String? = nil, owner: Ownership? = nil, affects: Affects = Affects()) {
        self.component = component
        self.product = product
        self.description = description
        self.owner = owner
        self.affects = affects
    }

    /// One line each, for a person. A component's own operation: `owner: …`, `affects: …`, `about: <description>`;
    /// a file: the one line `component mqtt-broker — Eclipse Foundation Mosquitto 2.0.18 · owner: …` (the component's
    /// operation, or the change's summary, says the rest); a flow: `affects: …` (the bricks it touches), `about: …`.
    public func lines(kind: Resource.Kind) -> [String] {
        if kind == .file {
            guard let component else { return [] }
            return ["component \(component)" + (product.map { " — \($0)" } ?? "") + (owner.map { " · owner: \($0.name)" } ?? "")]
        }
        var lines: [String] = []
        if let owner { lines.append("owner: \(owner.line)") }
        if !affects.isEmpty { lines.append("affects: \(affects.line)") }
        if let description, !description.isEmpty { lines.append("about: \(description)") }
        return lines
    }

    public var isEmpty: Bool { component == nil && product == nil && description == nil && owner == nil && affects.isEmpty }

    /// From a component's canonical content.
    static func component(named name: String, _ structured: [String: Value]) -> OperationAbout {
        let product = [structured["vendor"]?.stringValue, structured["product"]?.stringValue, structured["version"]?.stringValue]
            .compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        return OperationAbout(
            component: name, product: product.isEmpty ? nil : product, description: structured["description"]?.stringValue,
            owner: Ownership(value: structured["owner"]), affects: Affects(value: structured["affects"]))
    }

    /// From a flow's canonical content (`new` parsed already when it comes from the desired state): its description,
    /// and what the bricks the operation touches affect (every brick of a created or deleted flow; the added, removed
    /// and changed ones of an updated flow, layout aside).
    static func flow(old: Data?, new: Value?) -> OperationAbout {
        let before = old.flatMap { try? Value.parseJSON($0) }?.objectValue
        let after = new?.objectValue
        let a = FlowPicture.bricks(before), b = FlowPicture.bricks(after)
        var affects = Affects()
        for id in Set(a.keys).union(b.keys).sorted() {
            var x = a[id], y = b[id]
            x?["layout"] = nil
            y?["layout"] = nil
            guard x != y else { continue }
            affects = affects.union(Affects(value: (y ?? x)?["affects"])).union(Affects(value: x?["affects"]))
        }
        let shown = after ?? before ?? [:]
        return OperationAbout(description: shown["description"]?.stringValue, affects: affects)
    }

    var stored: Value {
        var object: [String: Value] = [:]
        if let component { object["component"] = .string(component) }
        if let product { object["product"] = .string(product) }
        if let description { object["description"] = .string(description) }
        if let owner { object["owner"] = owner.value }
        if !affects.isEmpty { object["affects"] = affects.value }
        return .object(object)
    }

    init(stored value: Value) {
        let o = value.objectValue ?? [:]
        self.init(
            component: o["component"]?.stringValue, product: o["product"]?.stringValue, description: o["description"]?.stringValue,
            owner: Ownership(value: o["owner"]), affects: Affects(value: o["affects"]))
    }
}
