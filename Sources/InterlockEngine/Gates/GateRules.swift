import Foundation
import InterlockModel

/// What was last applied at a site: the change, its commit, and the files that defined the site's gates then.
public struct SiteBaseline: Sendable, Hashable {
    public var site: String
    /// The change that was applied (a queued change, or the record of a first deployment).
    public var changeID: String
    public var commit: String?
    public var files: RulesFiles
    public var appliedAt: Date

    public init(site: String, changeID: String, commit: String?, files: RulesFiles, appliedAt: Date) {
        self.site = site
        self.changeID = changeID
        self.commit = commit
        self.files = files
        self.appliedAt = appliedAt
    }
}

/// One gate-defining field that a commit changes, with its trusted and proposed values.
public struct RuleChange: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case approval, windows, freezes, policy, target, timezone, rollout
    }

    public var kind: Kind
    public var field: String
    public var old: String
    public var new: String

    public init(kind: Kind, field: String, old: String, new: String) {
        self.kind = kind
        self.field = field
        self.old = old
        self.new = new
    }

    public var description: String { "\(field): \(old) → \(new)" }

    /// "changes this site's approval rules / target", as the plan and the change page headline it.
    public static func headline(_ changes: [RuleChange]) -> String? {
        guard !changes.isEmpty else { return nil }
        var parts: [String] = []
        let kinds = Set(changes.map(\.kind))
        if !kinds.isDisjoint(with: [.approval, .policy]) { parts.append("approval rules") }
        if !kinds.isDisjoint(with: [.windows, .freezes, .timezone]) { parts.append("maintenance windows and freezes") }
        if kinds.contains(.rollout) { parts.append("rollout waves") }
        if kinds.contains(.target) { parts.append("target") }
        return "changes this site's \(parts.joined(separator: ", ")); gated by the stricter of the old and new rules"
    }
}

/// The gate rules a change of a site waits for. They come from what was already trusted — the site's rules as they
/// were when a change was last applied there — combined with what the commit proposes, the stricter of the two:
/// a commit can tighten its own gates but never loosen them. Before a site's first deployment nothing is trusted yet
/// and the commit's rules apply (signers still come only from the instance configuration).
public struct GateRules: Sendable {
    /// The site as the gates see it: approvals, windows and freezes combined from `trusted` and `proposed`.
    public var site: Site
    /// The site as the commit being gated defines it.
    public var proposed: Site
    /// The site as it was when a change was last applied there (nil before the first deployment).
    public var trusted: Site?
    public var trustedConfig: RepositoryConfig?
    public var baseline: SiteBaseline?
    /// Whether the site has applied changes although no trusted rules were recorded for it (applied by an older
    /// version): every change then waits for approval and a window.
    public var unrecordedHistory: Bool
    /// The gate-defining fields the commit changes.
    public var changes: [RuleChange]

    /// Whether nothing was applied at the site yet.
    public var firstDeployment: Bool { baseline == nil && !unrecordedHistory }

    /// The rules for `proposed`, from the store's baseline of the site.
    public static func resolve(_ proposed: Site, proposedConfig: RepositoryConfig? = nil, store: any ChangeStore) throws -> GateRules {
        let baseline = try store.baseline(site: proposed.name)
        var unrecorded = false
        if baseline == nil { unrecorded = try !store.changes(sites: [proposed.name], statuses: [.applied], limit: 1).isEmpty }
        return combine(proposed: proposed, proposedConfig: proposedConfig, baseline: baseline, unrecordedHistory: unrecorded)
    }

    /// Combines the proposed site with a baseline (pure).
    public static func combine(proposed: Site, proposedConfig: RepositoryConfig? = nil, baseline: SiteBaseline?, unrecordedHistory: Bool = false) -> GateRules {
        let (trusted, trustedConfig) = baseline.map { $0.files.read(site: proposed.name) } ?? (nil, nil)
        var effective = proposed
        var changes: [RuleChange] = []
        if let trusted {
            effective = stricter(trusted: trusted, proposed: proposed)
            changes = ruleChanges(from: trusted, to: proposed)
        }
        if let trustedConfig, let proposedConfig {
            let old = trustedConfig.wave(of: proposed.name), new = proposedConfig.wave(of: proposed.name)
            if old?.name != new?.name || old?.bake != new?.bake || trustedConfig.waves.map(\.name) != proposedConfig.waves.map(\.name) {
                changes.append(RuleChange(kind: .rollout, field: "rollout wave", old: describe(old, in: trustedConfig), new: describe(new, in: proposedConfig)))
            }
        }
        return GateRules(site: effective, proposed: proposed, trusted: trusted, trustedConfig: trustedConfig, baseline: baseline,
                         unrecordedHistory: unrecordedHistory, changes: changes)
    }

    /// The gate of a change touching `paths`: the stricter of the trusted and the proposed policy, and at least an
    /// approval when the change retargets the site.
    public func gate(forResourcePaths paths: [String]) -> Gate {
        if unrecordedHistory || (baseline != nil && trusted == nil) { return GateRule.fallback }
        let proposedGate = proposed.gate(forResourcePaths: paths)
        guard let trusted else { return proposedGate }
        var gate = proposedGate.combined(with: trusted.gate(forResourcePaths: paths))
        // Pointing a site somewhere else is never automatic: someone who approves for the site signs it.
        if changes.contains(where: { $0.kind == .target }) { gate = gate.combined(with: .approval) }
        return gate
    }

    /// The stricter of two definitions of a site's gates: the larger approval count, approvers listed in both (the
    /// trusted list when they share nobody), the author may approve only when both allow it, the trusted windows
    /// (the proposed ones when none were trusted), the freezes of both, the longer minimum window remainder.
    static func stricter(trusted: Site, proposed: Site) -> Site {
        var site = proposed
        let both = trusted.approval.approvers.filter { proposed.approval.approvers.contains($0) }
        site.approval = ApprovalPolicy(
            required: max(trusted.approval.required, proposed.approval.required),
            approvers: both.isEmpty ? trusted.approval.approvers : both,
            allowAuthor: trusted.approval.allowAuthor && proposed.approval.allowAuthor)
        if !trusted.windows.isEmpty {
            site.windows = trusted.windows
            site.timezone = trusted.timezone
        }
        site.freezes = trusted.freezes + proposed.freezes.filter { !trusted.freezes.contains($0) }
        site.minimumWindowRemaining = TimeSpan(seconds: max(trusted.minimumWindowRemaining.seconds, proposed.minimumWindowRemaining.seconds))
        return site
    }

    static func ruleChanges(from old: Site, to new: Site) -> [RuleChange] {
        var changes: [RuleChange] = []
        func compare(_ kind: RuleChange.Kind, _ field: String, _ a: String, _ b: String) {
            if a != b { changes.append(RuleChange(kind: kind, field: field, old: a, new: b)) }
        }
        compare(.approval, "approval.required", String(old.approval.required), String(new.approval.required))
        compare(.approval, "approval.approvers", list(old.approval.approvers), list(new.approval.approvers))
        compare(.approval, "approval.allowAuthor", String(old.approval.allowAuthor), String(new.approval.allowAuthor))
        compare(.policy, "policy", list(old.policy.map { "\($0.match): \($0.gate.rawValue)" }), list(new.policy.map { "\($0.match): \($0.gate.rawValue)" }))
        compare(.windows, "windows", list(old.windows.map(describe)), list(new.windows.map(describe)))
        compare(.windows, "minimumWindowRemaining", old.minimumWindowRemaining.description, new.minimumWindowRemaining.description)
        compare(.freezes, "freezes", list(old.freezes.map(describe)), list(new.freezes.map(describe)))
        compare(.timezone, "timezone", old.timezone, new.timezone)
        compare(.target, "target", describe(old.target, reach: old.reach), describe(new.target, reach: new.reach))
        return changes
    }

    static func list(_ items: [String]) -> String { items.isEmpty ? "(none)" : "[" + items.joined(separator: ", ") + "]" }

    static func describe(_ window: MaintenanceWindow) -> String { "\(window.name) \"\(window.start.source)\" for \(window.duration)" }

    static func describe(_ freeze: Freeze) -> String { "\(freeze.name) \(freeze.from)–\(freeze.to)" }

    public static func describe(_ target: Target, reach: Reach = .server) -> String {
        let text = switch target {
        case .files(let root): "files \(root)"
        case .command(let spec): "command \(spec.arguments.joined(separator: " "))"
            + (spec.environment.isEmpty ? "" : " env " + spec.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            + (spec.timeout.map { " timeout \($0)" } ?? "")
        }
        return reach == .agent ? text + " via agent" : text
    }

    static func describe(_ wave: RolloutWave?, in config: RepositoryConfig) -> String {
        guard let wave else { return config.wavesDeclared ? "(in no wave)" : "(no waves)" }
        let index = (config.waves.firstIndex { $0.name == wave.name } ?? 0) + 1
        return "\(wave.name) (\(index) of \(config.waves.count))\(wave.bake.map { ", bake \($0)" } ?? "")"
    }
}

extension Site {
    /// `files plant-a`, `command ./drivers/x.py`, with ` via agent` for a site its agent reaches.
    public var targetDescription: String { GateRules.describe(target, reach: reach) }
}
