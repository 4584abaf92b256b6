import Foundation
import InterlockModel

/// A plan in the queue: one site's changes at one commit, waiting for its gates, then applied.
public struct ChangeRequest: Sendable, Hashable {
    /// `<site>-<n>`, e.g. `plant-a-7`: readable, unique, assigned by the store.
    public var id: String
    public var site: String
    public var plan: Plan
    /// The gate mode that applies (the strictest of the policy rules matching the plan's resources).
    public var gate: Gate
    public var status: ChangeStatus
    /// Why the status is what it is ("rejected by mgr-plant-a: …", "superseded by plant-a-8", health output…).
    public var statusReason: String?
    /// The commit's author, who may not approve unless the site allows it.
    public var author: Person?
    public var commitSummary: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var approvals: [Approval]
    /// Set when applied (or attempted) outside its window under `--emergency`.
    public var emergency: Bool
    /// Every commit the change carries (since the commit last applied at the site), newest first: none of their
    /// authors or committers may approve it unless the site allows authors.
    public var commits: [CommitIdentity]
    /// The gate-defining fields (approval, policy, windows, freezes, target, wave) the change's commit changes.
    public var ruleChanges: [RuleChange]

    public init(
        id: String, site: String, plan: Plan, gate: Gate, status: ChangeStatus, statusReason: String? = nil,
        author: Person?, commitSummary: String?, createdAt: Date, updatedAt: Date, approvals: [Approval] = [], emergency: Bool = false,
        commits: [CommitIdentity] = [], ruleChanges: [RuleChange] = []
    ) {
        self.id = id
        self.site = site
        self.plan = plan
        self.gate = gate
        self.status = status
        self.statusReason = statusReason
        self.author = author
        self.commitSummary = commitSummary
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.approvals = approvals
        self.emergency = emergency
        self.commits = commits
        self.ruleChanges = ruleChanges
    }

    /// Distinct approvers of this change's plan.
    public var approvers: Set<String> { Set(approvals.filter { $0.planID == plan.id }.map(\.approver.id)) }
}

/// Where a change request is in its life.
public enum ChangeStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Some gate is closed.
    case waiting
    /// Every gate is open; the executor may start it.
    case ready
    case applying
    case applied
    case failed
    case rolledBack = "rolled-back"
    case rejected
    /// A newer commit or a change at the site gave a different plan.
    case superseded
    case expired

    /// Statuses a change leaves only by being applied, rejected, superseded or expired.
    public static let active: Set<ChangeStatus> = [.waiting, .ready, .applying]

    public var isActive: Bool { Self.active.contains(self) }
}

/// A person as Interlock knows them: id, printed name, e-mail.
public struct Person: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var email: String?

    public init(id: String, name: String, email: String? = nil) {
        self.id = id
        self.name = name
        self.email = email
    }
}

/// A commit a change carries: its id, summary, author and committer.
public struct CommitIdentity: Sendable, Hashable, Codable {
    public var id: String
    public var summary: String
    public var author: Person
    public var committer: Person

    public init(id: String, summary: String, author: Person, committer: Person) {
        self.id = id
        self.summary = summary
        self.author = author
        self.committer = committer
    }
}

/// An electronic signature on one plan: who, as what, when, meaning what, and why.
public struct Approval: Sendable, Hashable {
    public var approver: Person
    /// The role they signed in (`plant manager`, `approver`).
    public var role: String
    /// "approved as plant manager of plant-a".
    public var meaning: String
    public var reason: String
    public var planID: String
    public var at: Date
    /// Set when the signature was given on another change whose plan differed from this one only by its commit
    /// (same site, operations and live state) and carried over to this one: that change and the plan signed.
    public var carriedFromChange: String?
    public var carriedFromPlan: String?

    public init(approver: Person, role: String, meaning: String, reason: String, planID: String, at: Date,
                carriedFromChange: String? = nil, carriedFromPlan: String? = nil) {
        self.approver = approver
        self.role = role
        self.meaning = meaning
        self.reason = reason
        self.planID = planID
        self.at = at
        self.carriedFromChange = carriedFromChange
        self.carriedFromPlan = carriedFromPlan
    }
}
