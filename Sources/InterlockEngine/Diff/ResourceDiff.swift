import Foundation
import InterlockModel

/// What changed in one resource, in words a plant manager can read.
///
/// Components: which fields and config keys changed. Flows: bricks added, removed or changed (and which
/// fields), connections added or removed; brick `layout` is ignored. Text files: a unified diff.
public enum ResourceDiff {
    /// Whether two contents of a resource mean the same behaviour (flows: equal apart from layout).
    public static func semanticallyEqual(kind: Resource.Kind, old: Data, new: Data) -> Bool {
        if old == new { return true }
        guard kind == .flow, let a = try? Value.parseJSON(old), let b = try? Value.parseJSON(new) else { return false }
        return withoutLayout(a) == withoutLayout(b)
    }

    /// Change lines for an update from `old` to `new` content.
    public static func describe(kind: Resource.Kind, path: String, old: Data?, new: Data, context: Int = 3) -> [String] {
        guard let old else { return ["previous content not readable at the target; content hash differs"] }
        switch kind {
        case .flow:
            guard let a = try? Value.parseJSON(old), let b = try? Value.parseJSON(new) else { return textDiff(path: path, old: old, new: new, context: context) }
            return flowChanges(from: a, to: b)
        case .component:
            guard let a = try? Value.parseJSON(old), let b = try? Value.parseJSON(new) else { return textDiff(path: path, old: old, new: new, context: context) }
            var a2 = a.objectValue ?? [:], b2 = b.objectValue ?? [:]
            a2["files"] = nil
            b2["files"] = nil
            let lines = StructuredDiff.changes(from: .object(a2), to: .object(b2)).map(\.description)
            return lines.isEmpty ? ["rendered files changed (see the file operations)"] : lines
        case .file:
            return textDiff(path: path, old: old, new: new, context: context)
        }
    }

    static func textDiff(path: String, old: Data, new: Data, context: Int) -> [String] {
        guard let a = String(data: old, encoding: .utf8), let b = String(data: new, encoding: .utf8) else {
            return ["binary content changed (\(old.count) → \(new.count) bytes)"]
        }
        let diff = TextDiff.unified(old: a, new: b, oldLabel: "live/\(path)", newLabel: "desired/\(path)", context: context)
        return diff.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    static func withoutLayout(_ flow: Value) -> Value {
        guard var object = flow.objectValue else { return flow }
        if let bricks = object["bricks"]?.arrayValue {
            object["bricks"] = .array(bricks.map { brick in
                guard var b = brick.objectValue else { return brick }
                b["layout"] = nil
                return .object(b)
            })
        }
        return .object(object)
    }

    /// `brick meter-reader config.interval 5s → 1s`, `brick alerts added (threshold-alert 1.2)`,
    /// `connection aggregator.out → alerts.in added`.
    static func flowChanges(from old: Value, to new: Value) -> [String] {
        func bricks(_ flow: Value) -> [String: [String: Value]] {
            var result: [String: [String: Value]] = [:]
            for brick in flow.objectValue?["bricks"]?.arrayValue ?? [] {
                if var b = brick.objectValue, let id = b["id"]?.stringValue {
                    b["layout"] = nil
                    result[id] = b
                }
            }
            return result
        }
        func connections(_ flow: Value) -> Set<String> {
            Set((flow.objectValue?["connections"]?.arrayValue ?? []).compactMap { c in
                guard let o = c.objectValue, let from = o["from"]?.stringValue, let to = o["to"]?.stringValue else { return nil }
                return "\(from) → \(to)"
            })
        }
        var lines: [String] = []
        let a = bricks(old), b = bricks(new)
        for id in Set(a.keys).union(b.keys).sorted() {
            switch (a[id], b[id]) {
            case (nil, let added?):
                lines.append("brick \(id) added (\(added["type"]?.stringValue ?? "?") \(added["version"]?.stringValue ?? ""))")
            case (let removed?, nil):
                lines.append("brick \(id) removed (\(removed["type"]?.stringValue ?? "?") \(removed["version"]?.stringValue ?? ""))")
            case (let x?, let y?):
                lines += StructuredDiff.changes(from: .object(x), to: .object(y)).map { "brick \(id) \($0)" }
            default:
                break
            }
        }
        let ca = connections(old), cb = connections(new)
        lines += cb.subtracting(ca).sorted().map { "connection \($0) added" }
        lines += ca.subtracting(cb).sorted().map { "connection \($0) removed" }
        var rest = old.objectValue ?? [:], restNew = new.objectValue ?? [:]
        for key in ["bricks", "connections"] {
            rest[key] = nil
            restNew[key] = nil
        }
        lines += StructuredDiff.changes(from: .object(rest), to: .object(restNew)).map(\.description)
        return lines
    }
}
