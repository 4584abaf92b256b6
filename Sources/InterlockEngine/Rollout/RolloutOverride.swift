import Foundation
import InterlockModel

/// An authorised decision to let a commit's rollout go on against the wave rules.
public struct RolloutOverride: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Lifts a halt: sites of later waves may proceed although an earlier wave failed.
        case resume
        /// Later waves do not wait for earlier waves at all for this commit.
        case skip
    }

    public var commit: String
    public var action: Action
    public var by: Person
    public var reason: String
    public var at: Date

    public init(commit: String, action: Action, by: Person, reason: String, at: Date) {
        self.commit = commit
        self.action = action
        self.by = by
        self.reason = reason
        self.at = at
    }
}

/// Persistence of rollout decisions and bake checks, next to the change queue.
public protocol RolloutStore: ChangeStore {
    func rolloutOverrides(commit: String) throws -> [RolloutOverride]
    func addRolloutOverride(_ override: RolloutOverride, events: [AuditEvent]) throws
    /// When the health of an applied change was last checked during its bake.
    func lastHealthCheck(changeID: String) throws -> Date?
    func recordHealthCheck(changeID: String, at: Date, events: [AuditEvent]) throws
}

/// A rollout owner's decision about one commit (`rollout resume`, `rollout skip`, from the command line or the
/// console): who may decide, and what is recorded. The caller has authenticated the person (password).
public enum RolloutDecisions {
    public struct Refusal: Error, Sendable {
        public var message: String
        /// The full commit id, when the prefix named one.
        public var commit: String?

        public init(message: String, commit: String?) {
            self.message = message
            self.commit = commit
        }
    }

    /// The one queued commit `prefix` names (at least 7 hex digits), or why not.
    public static func commit(named prefix: String, store: any ChangeStore) throws -> Result<String, Refusal> {
        let lower = prefix.lowercased()
        guard lower.count >= 7, lower.allSatisfy(\.isHexDigit) else {
            return .failure(Refusal(message: "name the commit by at least 7 hex digits", commit: nil))
        }
        let known = Set(try store.changes(sites: [], statuses: [], limit: 500).compactMap(\.plan.commit))
        let matches = known.filter { $0.hasPrefix(lower) }
        guard matches.count == 1, let full = matches.first else {
            return .failure(Refusal(message: matches.isEmpty ? "no queued change is for a commit starting with \(prefix)" : "\(prefix) is ambiguous",
                                    commit: matches.first))
        }
        return .success(full)
    }

    /// Whether `person` may override rollouts: an admin or operator, or an approver acting for every site of a later
    /// wave — as the current rollout names them and as the rollout trusted at each site (last applied) names them.
    public static func refusal(for person: InstanceConfiguration.User, state: DesiredState, store: any ChangeStore) throws -> String? {
        var laterSites = Set(state.config.waves.dropFirst().flatMap(\.sites))
        for site in state.sites {
            if let trusted = try store.baseline(site: site.name).flatMap({ $0.files.read(site: site.name).config }) {
                laterSites.formUnion(trusted.waves.dropFirst().flatMap(\.sites))
            }
        }
        let authorised = person.roles.contains(.admin) || person.roles.contains(.operator)
            || (person.roles.contains(.approver) && laterSites.allSatisfy { person.actsFor($0) })
        return authorised ? nil
            : "\(person.name) (\(person.id)) may not override rollouts: it takes the operator or admin role, or approving for every later-wave site"
    }

    /// Records the decision (`rollout.resume` / `rollout.skip`) and moves the commit's waiting changes that waited
    /// only for the waves to ready. Returns the readiness notes.
    public static func record(_ action: RolloutOverride.Action, commit: String, person: InstanceConfiguration.User, authentication: String,
                              reason: String, details: [String: String] = [:], state: DesiredState, store: any RolloutStore,
                              reconciler: Reconciler) throws -> [String] {
        let decision = RolloutOverride(commit: commit, action: action, by: Person(id: person.id, name: person.name, email: person.email),
                                       reason: reason, at: Date())
        try store.addRolloutOverride(decision, events: [AuditEvent(
            actor: decision.by, role: person.title, authentication: authentication, category: .approval,
            action: "rollout.\(action.rawValue)", commit: commit, reason: reason, details: details.merging(["printedName": person.name]) { $1 })])
        var notes: [String] = []
        for change in try store.changes(sites: [], statuses: [.waiting], limit: nil) where change.plan.commit == commit {
            guard let site = state.site(named: change.site) else { continue }
            let wave = try reconciler.waveState(of: change, site: site, state: state)
            notes += try reconciler.updateReadiness(change, site: site, wave: wave).2
        }
        return notes
    }
}
