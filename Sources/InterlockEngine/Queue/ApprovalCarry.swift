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
    /// Why each user of the trusted configuration may not sign the new change (a user who may is not listed): the
    /// checks of a signature given now — still a user, an approver acting for the site and listed among its
    /// approvers, not an author of a commit it carries where authors may not approve.
    public var refusals: [String: String]
    /// The users of the trusted configuration.
    public var users: Set<String>

    public init(fromChangeID: String, fromPlanID: String, refusals: [String: String], users: Set<String>) {
        self.fromChangeID = fromChangeID
        self.fromPlanID = fromPlanID
        self.refusals = refusals
        self.users = users
    }

    /// The carry for the site's active change when `plan` differs from its plan only by the commit, under rules
    /// that were already trusted (a recorded baseline: before a site's first deployment the commit brings its own
    /// rules, which a signature given under another commit's rules must not be counted against); nil otherwise.
    public static func candidate(active: ChangeRequest?, plan: Plan, gate: Gate, rules: GateRules, users: [InstanceConfiguration.User],
                                 commits: [CommitIdentity], author: Person?) -> ApprovalCarry? {
        guard let active, active.status == .waiting || active.status == .ready, !active.emergency,
              active.plan.id != plan.id, active.plan.site == plan.site, rules.baseline != nil, !rules.unrecordedHistory,
              sameWork(active.plan, plan), active.gate == gate, active.ruleChanges == rules.changes
        else { return nil }
        // The new change as it will be queued, for the checks of a signature given on it now.
        let new = ChangeRequest(id: "\(plan.site)-next", site: plan.site, plan: plan, gate: gate, status: .waiting, author: author,
                                commitSummary: nil, createdAt: Date(), updatedAt: Date(), commits: commits, ruleChanges: rules.changes)
        var refusals: [String: String] = [:]
        for user in users {
            do {
                _ = try ApprovalRules.authorize(userID: user.id, users: users, rules: rules, change: new, approving: true)
            } catch {
                refusals[user.id] = error.message
            }
        }
        return ApprovalCarry(fromChangeID: active.id, fromPlanID: active.plan.id, refusals: refusals, users: Set(users.map(\.id)))
    }

    /// Same live state, same operations (paths, actions, contents, modes), same drift being reverted.
    public static func sameWork(_ a: Plan, _ b: Plan) -> Bool {
        a.liveFingerprint == b.liveFingerprint && a.operations.map(\.identity) == b.operations.map(\.identity)
            && a.drift.map(\.path) == b.drift.map(\.path)
    }

    /// Whether this carry is for `old` as the store reads it in the transaction that supersedes it by `new`.
    public func applies(to old: ChangeRequest, new: NewChange) -> Bool {
        old.id == fromChangeID && old.plan.id == fromPlanID && Self.sameWork(old.plan, new.plan) && old.gate == new.gate
            && old.ruleChanges == new.ruleChanges && !old.emergency
    }

    /// Why `approval` does not carry over; nil when it does.
    public func lapse(_ approval: Approval) -> String? {
        guard users.contains(approval.approver.id) else {
            return "\(approval.approver.name) (\(approval.approver.id)) is no longer a user of this instance"
        }
        return refusals[approval.approver.id]
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
        var parts: [String] = []
        if !carried.isEmpty { parts.append("\(carried.count) approval(s) carry over to \(newID)") }
        if !lapsed.isEmpty { parts.append("\(lapsed.count) lapse: \(lapsed.map(\.1).joined(separator: "; "))") }
        if parts.isEmpty { parts.append("it had no approvals") }
        let reason = "a newer plan \(newPlan.shortID) (commit \(newPlan.commit.map { String($0.prefix(10)) } ?? "working tree")) with the same operations and live state replaces it; "
            + parts.joined(separator: "; ")
        var events = [AuditEvent(
            actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .plan, action: "change.superseded",
            site: old.site, changeID: old.id, planID: old.plan.id, commit: old.plan.commit, before: old.status.rawValue, after: "superseded",
            reason: reason, details: details)]
        for approval in carried {
            let signedChange = approval.carriedFromChange ?? old.id
            let signedPlan = approval.carriedFromPlan ?? old.plan.id
            events.append(AuditEvent(
                actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .approval, action: "change.approval.carried",
                site: old.site, changeID: newID, planID: newPlan.id, commit: newPlan.commit, before: old.plan.id, after: newPlan.id,
                reason: "\(approval.approver.name) signed \(signedChange) (plan \(String(signedPlan.dropFirst(7).prefix(12)))); \(newID) has the same operations and live state as \(old.id), only the commit differs, and \(approval.approver.name) may still sign it",
                details: ["approver": approval.approver.id, "approverName": approval.approver.name, "meaning": approval.meaning,
                          "approvedAt": approval.at.formatted(.iso8601), "from": old.id, "fromPlan": old.plan.id,
                          "signedChange": signedChange, "signedPlan": signedPlan]))
        }
        return (carried, lapsed, events)
    }
}
