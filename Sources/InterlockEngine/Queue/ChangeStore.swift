import Foundation
import InterlockModel

/// Persistence of the change queue. Every method that changes a change request also writes the audit
/// events that describe it, in the same transaction: the queue and the audit log never disagree.
///
/// Implementations must make each method atomic across threads and processes sharing the store.
public protocol ChangeStore: AuditRecorder {
    /// Puts a plan in the queue for its site. If the site has an active (waiting or ready) change with a
    /// different plan, that change is superseded (its approvals do not carry over). If it has one with the
    /// same plan id, nothing changes and that change is returned. A change that is applying is never
    /// superseded: the new plan is not queued (returns the applying change).
    func enqueue(_ change: NewChange, events: [AuditEvent]) throws -> EnqueueResult

    func change(id: String) throws -> ChangeRequest?

    /// Changes, newest first; `sites` and `statuses` filter when non-empty.
    func changes(sites: [String], statuses: Set<ChangeStatus>, limit: Int?) throws -> [ChangeRequest]

    /// Adds an approval if the change is still waiting or ready and its plan id is `approval.planID`.
    func approve(changeID: String, approval: Approval, events: [AuditEvent]) throws -> ChangeRequest

    /// Moves a change from one of `from` to `to` (compare-and-set). Throws `ChangeStoreError.conflict`
    /// when the change is not in one of `from` any more.
    func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent]) throws -> ChangeRequest

    /// `transition`, and in the same transaction records `baseline` as what is now applied at the change's site
    /// (the rules later changes of the site are gated by).
    func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?) throws -> ChangeRequest

    /// What was last applied at a site, with the files that defined its gates then (nil: nothing recorded).
    func baseline(site: String) throws -> SiteBaseline?

    /// Claims a ready change for applying by `owner`: succeeds only if it is ready and no other change of
    /// its site is applying. At most one claimant ever wins.
    func claim(changeID: String, owner: String, emergency: Bool, events: [AuditEvent]) throws -> ChangeRequest

    /// Saves what an apply did (for recovery and rollback).
    func saveReceipt(changeID: String, receipt: ApplyReceipt) throws

    func receipt(changeID: String) throws -> ApplyReceipt?

    /// The owner recorded by `claim` for an applying change.
    func owner(changeID: String) throws -> String?
}

/// What `enqueue` is asked to queue.
public struct NewChange: Sendable, Hashable {
    public var site: String
    public var plan: Plan
    public var gate: Gate
    public var author: Person?
    public var commitSummary: String?
    public var commits: [CommitIdentity]
    public var ruleChanges: [RuleChange]

    public init(site: String, plan: Plan, gate: Gate, author: Person?, commitSummary: String?, commits: [CommitIdentity] = [], ruleChanges: [RuleChange] = []) {
        self.site = site
        self.plan = plan
        self.gate = gate
        self.author = author
        self.commitSummary = commitSummary
        self.commits = commits
        self.ruleChanges = ruleChanges
    }
}

public struct EnqueueResult: Sendable, Hashable {
    /// The site's active change after the call.
    public var change: ChangeRequest
    /// Whether `change` was created by this call.
    public var created: Bool
    /// The change this call superseded, if any.
    public var superseded: ChangeRequest?

    public init(change: ChangeRequest, created: Bool, superseded: ChangeRequest?) {
        self.change = change
        self.created = created
        self.superseded = superseded
    }
}

/// A queue operation that cannot be done, with what to do instead.
public struct ChangeStoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notFound = "not-found"
        /// The change is not in a state that allows the operation (superseded, rejected, applied …).
        case conflict
        case database
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
