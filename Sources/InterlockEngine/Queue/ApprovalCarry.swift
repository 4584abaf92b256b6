import Foundation
import InterlockModel

/// Signatures that survive a re-plan that changes nothing but the commit. A commit elsewhere in the repository (another
/// site's values, a README) gives a waiting change a new plan id although its operations and the live state they were
/// computed against are the same; the people who signed the old plan signed exactly these operations. Their approvals
/// carry over to the new change, each with an audit record saying from which change and plan. Anything else — another
/// operation, another live state, other gate rules, another gate, an emergency — and the signatures lapse (the
/// superseded change names its successor and who signed it).
public struct ApprovalCarry: Sendable, Hashable {
    /// The change whose signatures may carry, and its plan (as read when the pass decided: if the change moved on
    /// meanwhile, nothing carries).
    public var fromChangeID: String
    public var fromPlanID: String
    /// Whether authors may approve at the site (the rules both plans are gated by).
    public var allowAuthor: Bool
    /// The commits the new change carries: a signer who wrote or committed one of them may not keep a signature when
    /// authors may not approve.
    public var commits: [CommitIdentity]
    /// The author of the new change's commit.
    public var author: Person?

    public init(fromChangeID: String, fromPlanID: String, allowAuthor: Bool, commits: [CommitIdentity], author: Person?) {
        self.fromChangeID = fromChangeID
        self.fromPlanID = fromPlanID
        self.allowAuthor = allowAuthor
        self.commits = commits
        self.author = author
    }

    /// The carry for the site's active change when `plan` differs from its plan only by the commit; nil otherwise.
    public static func candidate(active: ChangeRequest?, plan: Plan, gate: Gate, ruleChanges: [RuleChange], allowAuthor: Bool,
                                 commits: [CommitIdentity], author: Person?) -> ApprovalCarry? {
        guard let active, active.status == .waiting || active.status == .ready, !active.emergency,
              active.plan.id != plan.id, active.plan.site == plan.site,
              !active.approvals.filter({ $0.planID == active.plan.id }).isEmpty,
              sameWork(active.plan, plan), active.gate == gate, active.ruleChanges == ruleChanges
        else { return nil }
        return ApprovalCarry(fromChangeID: active.id, fromPlanID: active.plan.id, allowAuthor: allowAuthor, commits: commits, author: author)
    }

    /// Same live state, same operations (paths, actions, contents), same drift being reverted.
    public static func sameWork(_ a: Plan, _ b: Plan) -> Bool {
        a.liveFingerprint == b.liveFingerprint && a.operations.map(\.identity) == b.operations.map(\.identity)
            && a.drift.map(\.path) == b.drift.map(\.path)
    }

    /// Why `approval` does not carry over; nil when it does.
    public func lapse(_ approval: Approval) -> String? {
        guard !allowAuthor else { return nil }
        for commit in commits {
            if ApprovalRules.isSamePerson(signer: approval.approver, commit.author) {
                return "\(approval.approver.name) wrote commit \(commit.id.prefix(10)), which the new change carries (allowAuthor is false)"
            }
            if ApprovalRules.isSamePerson(signer: approval.approver, commit.committer) {
                return "\(approval.approver.name) committed \(commit.id.prefix(10)), which the new change carries (allowAuthor is false)"
            }
        }
        if let author, ApprovalRules.isSamePerson(signer: approval.approver, author) {
            return "\(approval.approver.name) wrote the new change's commit (allowAuthor is false)"
        }
        return nil
    }

    /// What the store writes when it supersedes `old` by `newID` (plan `newPlan`): the approvals to insert for the new
    /// change, the signatures that lapse with why, and the records (`change.superseded` first, then one
    /// `change.approval.carried` per signature). `old` must be the change this carry names, at the plan it names.
    public func outcome(old: ChangeRequest, newID: String, newPlan: Plan) -> (carried: [Approval], lapsed: [(Approval, String)], events: [AuditEvent]) {
        let signed = old.approvals.filter { $0.planID == old.plan.id }
        var carried: [Approval] = [], lapsed: [(Approval, String)] = []
        for approval in signed {
            if let why = lapse(approval) {
                lapsed.append((approval, why))
            } else {
                var moved = approval
                moved.planID = newPlan.id
                moved.carriedFromChange = approval.carriedFromChange ?? old.id
                moved.carriedFromPlan = approval.carriedFromPlan ?? old.plan.id
                carried.append(moved)
            }
        }
        var details = ["supersededBy": newID, "sameWork": "operations and live state as plan \(newPlan.shortID)"]
        if !carried.isEmpty { details["carried"] = carried.map(\.approver.id).joined(separator: ",") }
        if !lapsed.isEmpty {
            details["lapsed"] = lapsed.map(\.0.approver.id).joined(separator: ",")
            details["lapsedWhy"] = lapsed.map(\.1).joined(separator: "; ")
        }
        let reason = "a newer plan \(newPlan.shortID) (commit \(newPlan.commit.map { String($0.prefix(10)) } ?? "working tree")) with the same operations and live state replaces it; "
            + (carried.isEmpty ? "" : "\(carried.count) approval(s) carry over to \(newID)")
            + (carried.isEmpty || lapsed.isEmpty ? "" : "; ")
            + (lapsed.isEmpty ? "" : "\(lapsed.count) lapse: \(lapsed.map(\.1).joined(separator: "; "))")
        var events = [AuditEvent(
            actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .plan, action: "change.superseded",
            site: old.site, changeID: old.id, planID: old.plan.id, commit: old.plan.commit, before: old.status.rawValue, after: "superseded",
            reason: reason, details: details)]
        for approval in carried {
            events.append(AuditEvent(
                actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .approval, action: "change.approval.carried",
                site: old.site, changeID: newID, planID: newPlan.id, commit: newPlan.commit, before: old.plan.id, after: newPlan.id,
                reason: "\(approval.approver.name) signed \(old.id) (plan \(old.plan.shortID)); \(newID) has the same operations and live state, only the commit differs",
                details: ["approver": approval.approver.id, "approverName": approval.approver.name, "meaning": approval.meaning,
                          "approvedAt": approval.at.formatted(.iso8601), "from": old.id, "fromPlan": old.plan.id,
                          "signedChange": approval.carriedFromChange ?? old.id, "signedPlan": approval.carriedFromPlan ?? old.plan.id]))
        }
        return (carried, lapsed, events)
    }
}
