import Foundation

/// What a caller passes to ``AuditLog/append(_:)``: the event without the fields the log assigns
/// (sequence, id, timestamp, previous hash, hash).
///
/// Empty optional strings are treated as absent (`nil`), so a record reads the same from the database,
/// a JSON Lines export and a CSV export. ``validate()`` runs on every append.
public struct AuditEntry: Sendable, Hashable {
    public var actor: AuditActor
    public var source: AuditSource
    public var category: AuditCategory
    public var action: String
    public var site: String?
    public var resource: String?
    public var changeID: String?
    public var planID: String?
    public var commit: String?
    public var before: String?
    public var after: String?
    public var reason: String?
    public var result: AuditResult
    public var error: String?
    public var details: [String: String]

    public init(
        actor: AuditActor, source: AuditSource = .current, category: AuditCategory, action: String,
        site: String? = nil, resource: String? = nil, changeID: String? = nil, planID: String? = nil,
        commit: String? = nil, before: String? = nil, after: String? = nil, reason: String? = nil,
        result: AuditResult = .success, error: String? = nil, details: [String: String] = [:]
    ) {
        func present(_ s: String?) -> String? { s?.isEmpty == false ? s : nil }
        self.actor = actor
        self.source = source
        self.category = category
        self.action = action
        self.site = present(site)
        self.resource = present(resource)
        self.changeID = present(changeID)
        self.planID = present(planID)
        self.commit = present(commit)
        self.before = present(before)
        self.after = present(after)
        self.reason = present(reason)
        self.result = result
        self.error = present(error)
        self.details = details
    }

    /// Whether this entry must carry a reason: approvals, and every action ending in `.rejected` or `.override`.
    public var requiresReason: Bool {
        category == .approval || action.hasSuffix(".rejected") || action.hasSuffix(".override")
    }

    /// Checks what an auditor relies on: an action and an actor id, and a reason where one is required.
    public func validate() throws(AuditEntryError) {
        if action.trimmingCharacters(in: .whitespaces).isEmpty {
            throw AuditEntryError(field: "action", message: "an audit entry needs an action such as 'plan.computed'")
        }
        if actor.id.trimmingCharacters(in: .whitespaces).isEmpty {
            throw AuditEntryError(field: "actor.id", message: "an audit entry needs the actor's user id ('interlock' for the reconciler itself)")
        }
        if requiresReason, (reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let what = category == .approval ? "an approval (category approval)" : "action '\(action)'"
            throw AuditEntryError(
                field: "reason",
                message: "\(what) must state a reason, e.g. \"approved as plant manager\" or why it was rejected or overridden"
            )
        }
    }
}

/// An ``AuditEntry`` that cannot be recorded as it is.
public struct AuditEntryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field at fault (`reason`, `action`, `actor.id`).
    public var field: String
    public var message: String

    public var description: String { "audit entry: \(field): \(message)" }
}
