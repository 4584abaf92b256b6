import Foundation

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
