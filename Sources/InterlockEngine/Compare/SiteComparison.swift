import Foundation
import InterlockModel

/// Two sites side by side: their desired resources (identical, different through declared values or
/// overrides, or present at one site only) and their live state (where the plants' deployed
/// configuration differs beyond what git declares).
public struct SiteComparison: Sendable {
    public enum Verdict: String, Sendable, Hashable {
        case identical
        /// Different, and the difference is declared in git (values or overrides).
        case declared
        case onlyFirst = "only-first"
        case onlySecond = "only-second"
        /// Live content differs from what git declares for at least one of the sites.
        case undeclared
    }

    public struct Row: Sendable, Hashable {
        public var path: String
        public var verdict: Verdict
        public var detail: [String]
    }

    public var first: String
    public var second: String
    public var desired: [Row]
    /// nil when a site could not be observed (the reason is in `liveProblems`).
    public var live: [Row]?
    public var liveProblems: [String]
    /// Values that differ between the sites (`key: a → b`).
    public var valueDifferences: [String]

    public static func compare(_ a: CompiledSite, _ b: CompiledSite, liveA: LiveState?, liveB: LiveState?, problems: [String] = []) -> SiteComparison {
        let values = StructuredDiff.changes(from: a.site.values, to: b.site.values, prefix: "values").map(\.description)
        var desired: [Row] = []
        let paths = Set(a.resources.map(\.path)).union(b.resources.map(\.path)).sorted()
        for path in paths {
            switch (a.resource(at: path), b.resource(at: path)) {
            case (let x?, let y?):
                if x.contentHash == y.contentHash && x.mode == y.mode {
                    desired.append(Row(path: path, verdict: .identical, detail: []))
                } else {
                    var detail: [String] = []
                    let overrides = Set(x.sources + y.sources).filter { $0.contains("/overrides/") }.sorted()
                    if !overrides.isEmpty { detail.append("overrides: " + overrides.joined(separator: ", ")) }
                    if overrides.isEmpty || !values.isEmpty { detail.append("values of the two sites") }
                    let changes = ResourceDiff.describe(kind: x.kind, path: path, old: x.content, new: y.content, context: 0)
                        .filter { !$0.hasPrefix("---") && !$0.hasPrefix("+++") && !$0.hasPrefix("@@") }
                    detail += changes.prefix(6).map { "  \($0)" }
                    if changes.count > 6 { detail.append("  … \(changes.count - 6) more") }
                    desired.append(Row(path: path, verdict: .declared, detail: detail))
                }
            case (_?, nil): desired.append(Row(path: path, verdict: .onlyFirst, detail: []))
            case (nil, _?): desired.append(Row(path: path, verdict: .onlySecond, detail: []))
            case (nil, nil): break
            }
        }
        var live: [Row]?
        if let liveA, let liveB {
            var rows: [Row] = []
            let livePaths = Set(liveA.resources.keys).union(liveB.resources.keys).union(paths).sorted()
            for path in livePaths {
                let x = liveA.resources[path], y = liveB.resources[path]
                let dx = a.resource(at: path), dy = b.resource(at: path)
                var notes: [String] = []
                if let x, x.contentHash != (dx?.contentHash ?? "") { notes.append("\(a.site.name) differs from git (\(dx == nil ? "not declared" : "drift or not yet applied"))") }
                if let y, y.contentHash != (dy?.contentHash ?? "") { notes.append("\(b.site.name) differs from git (\(dy == nil ? "not declared" : "drift or not yet applied"))") }
                if x == nil, dx != nil { notes.append("missing at \(a.site.name)") }
                if y == nil, dy != nil { notes.append("missing at \(b.site.name)") }
                if !notes.isEmpty {
                    rows.append(Row(path: path, verdict: .undeclared, detail: notes))
                } else if x?.contentHash == y?.contentHash {
                    rows.append(Row(path: path, verdict: .identical, detail: []))
                } else {
                    rows.append(Row(path: path, verdict: .declared, detail: ["as declared in git"]))
                }
            }
            live = rows
        }
        return SiteComparison(first: a.site.name, second: b.site.name, desired: desired, live: live, liveProblems: problems, valueDifferences: values)
    }
}
