import Foundation
import InterlockEngine
import InterlockModel

/// How the change queue's rows and events are written, the same in SQLite and PostgreSQL.
enum QueueRows {
    static func entry(_ event: AuditEvent) -> AuditEntry {
        AuditEntry(
            actor: AuditActor(id: event.actor.id, name: event.actor.name, role: event.role, authentication: event.authentication),
            category: AuditCategory(rawValue: event.category.rawValue) ?? .system, action: event.action, site: event.site,
            resource: event.resource, changeID: event.changeID, planID: event.planID, commit: event.commit, before: event.before,
            after: event.after, reason: event.reason, result: event.success ? .success : .failure, error: event.error, details: event.details)
    }

    /// What superseding `old` by the new change `id` records, and the signatures that carry over to it (when the new
    /// change's carry is for `old` as read in the transaction); the same in SQLite and PostgreSQL.
    static func supersede(_ old: ChangeRequest, by id: String, new: NewChange) -> (events: [AuditEvent], carried: [Approval]) {
        if let carry = new.carry, carry.applies(to: old, new: new) {
            let outcome = carry.outcome(old: old, newID: id, newPlan: new.plan)
            return (outcome.events, outcome.carried)
        }
        return ([lapsed(old, by: id, plan: new.plan)], [])
    }

    /// The `change.superseded` record of a change replaced by another plan: its successor, and whose signatures lapse.
    static func lapsed(_ old: ChangeRequest, by id: String, plan: Plan) -> AuditEvent {
        let signers = old.approvals.filter { $0.planID == old.plan.id }
        var details = ["supersededBy": id]
        if !signers.isEmpty { details["lapsed"] = signers.map(\.approver.id).joined(separator: ",") }
        let lapse = signers.isEmpty ? "it had no approvals"
            : "the approval(s) of \(signers.map(\.approver.name).joined(separator: ", ")) lapse: they signed plan \(old.plan.shortID), not plan \(plan.shortID); \(id) needs its own signatures"
        return AuditEvent(
            actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .plan, action: "change.superseded",
            site: old.site, changeID: old.id, planID: old.plan.id, commit: old.plan.commit, before: old.status.rawValue, after: "superseded",
            reason: "a newer plan \(plan.shortID) replaces it (\(id)); \(lapse)", details: details)
    }

    static func json<T: Encodable>(_ value: [T]) throws -> String? {
        guard !value.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T? {
        guard let text else { return nil }
        return try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
