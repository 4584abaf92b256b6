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

    // MARK: Leases

    /// How long a claim holds without being renewed, in the store's time.
    var leaseDuration: TimeInterval { get }
    /// Whether several hosts share this store: a process identity (`host:pid:boot:start`) then says nothing about
    /// whether an applier elsewhere is alive, and only an expired lease lets another take its change over.
    var isShared: Bool { get }
    /// The lease of an applying change: its holder, its fencing token and when it expires (the store's time). `claim`
    /// grants one with a token greater than every token before.
    func lease(changeID: String) throws -> ChangeLease?
    /// Extends the lease while `token` still holds it; false when it was lost (the change was taken over or left
    /// applying).
    func renewLease(changeID: String, token: Int64) throws -> Bool
    /// Takes an applying change over for `owner` with a new token, when its lease expired or (`ownerIsDead`, ignored
    /// by a shared store) its holder is known to be gone, and only while the lease is still `token`'s: of several
    /// callers, one wins. Nil: not abandoned, or someone else took it.
    func takeOver(changeID: String, owner: String, token: Int64?, ownerIsDead: Bool, events: [AuditEvent]) throws -> ChangeLease?
    /// `transition`, `saveReceipt` and `record` by the holder of a lease: refused with `.fenced` unless the change is
    /// still applying under `fence`'s token, so an applier that was paused past its lease can no longer write.
    func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?, fence: LeaseFence?) throws -> ChangeRequest
    func saveReceipt(changeID: String, receipt: ApplyReceipt, fence: LeaseFence?) throws
    func record(_ events: [AuditEvent], fence: LeaseFence?) throws
}

/// Who may apply a change right now, for how long, and the token that fences everyone else's writes.
public struct ChangeLease: Sendable, Hashable {
    public var changeID: String
    public var owner: String
    public var token: Int64
    /// When it expires, nil for a change claimed before leases existed (treated as expired).
    public var expiresAt: Date?

    public init(changeID: String, owner: String, token: Int64, expiresAt: Date?) {
        self.changeID = changeID
        self.owner = owner
        self.token = token
        self.expiresAt = expiresAt
    }

    public var fence: LeaseFence { LeaseFence(changeID: changeID, token: token) }
}

/// The condition a lease holder's writes carry: the change and the token it holds.
public struct LeaseFence: Sendable, Hashable {
    public var changeID: String
    public var token: Int64

    public init(changeID: String, token: Int64) {
        self.changeID = changeID
        self.token = token
    }
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
    /// The signatures of the change this one supersedes may carry over (its plan differs only by the commit).
    public var carry: ApprovalCarry?

    public init(site: String, plan: Plan, gate: Gate, author: Person?, commitSummary: String?, commits: [CommitIdentity] = [], ruleChanges: [RuleChange] = [],
                carry: ApprovalCarry? = nil) {
        self.site = site
        self.plan = plan
        self.gate = gate
        self.author = author
        self.commitSummary = commitSummary
        self.commits = commits
        self.ruleChanges = ruleChanges
        self.carry = carry
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
        /// The writer's lease was lost: another process took the change over.
        case fenced
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
