import Foundation

/// Something the engine did or saw that belongs in the audit log. The store that keeps the queue
/// writes it in the same transaction as the state change it describes.
public struct AuditEvent: Sendable, Hashable {
    public enum Category: String, Sendable, Hashable {
        case configuration, plan, approval, apply, drift, access, system
    }

    public var actor: Person
    /// `interlock` for the service itself, `approver`, `operator`, …
    public var role: String
    /// How the actor was authenticated (`os-user`, `local-password`, `api-token`, `system`).
    public var authentication: String
    public var category: Category
    public var action: String
    public var site: String?
    public var resource: String?
    public var changeID: String?
    public var planID: String?
    public var commit: String?
    public var before: String?
    public var after: String?
    public var reason: String?
    public var success: Bool
    public var error: String?
    public var details: [String: String]

    public init(
        actor: Person, role: String, authentication: String, category: Category, action: String, site: String? = nil,
        resource: String? = nil, changeID: String? = nil, planID: String? = nil, commit: String? = nil, before: String? = nil,
        after: String? = nil, reason: String? = nil, success: Bool = true, error: String? = nil, details: [String: String] = [:]
    ) {
        self.actor = actor
        self.role = role
        self.authentication = authentication
        self.category = category
        self.action = action
        self.site = site
        self.resource = resource
        self.changeID = changeID
        self.planID = planID
        self.commit = commit
        self.before = before
        self.after = after
        self.reason = reason
        self.success = success
        self.error = error
        self.details = details
    }

    /// The reconciler itself.
    public static let system = Person(id: "interlock", name: "Interlock reconciler")
}

/// Where the engine writes audit events that do not go with a queue transition.
public protocol AuditRecorder: Sendable {
    func record(_ events: [AuditEvent]) throws
}
