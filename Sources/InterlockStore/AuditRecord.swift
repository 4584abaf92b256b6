import Foundation

/// One entry of the audit log as stored: who did what, when, where, why, with what result, and the
/// hash chain that makes any later alteration visible.
///
/// Records are only ever created by an ``AuditLog`` (which assigns `sequence`, `id`, `timestamp`,
/// `previousHash` and `hash`); nothing updates or deletes them. `hash` is the hex SHA-256 of
/// ``canonicalBytes`` — every field except `hash` itself, `previousHash` included — so a record
/// cannot be changed without breaking its own hash or the next record's link. See `docs/audit.md`.
public struct AuditRecord: Sendable, Hashable {
    /// Position in the log: 1 for the first record, then +1 without gaps.
    public var sequence: Int64
    /// A UUID (lowercase text) that names the record outside the log.
    public var id: String
    /// When the record was appended, UTC, millisecond precision.
    public var timestamp: Date
    /// Who: user (or `interlock` itself), printed name, role, and how they authenticated.
    public var actor: AuditActor
    /// Where the event was recorded from: host and process.
    public var source: AuditSource
    /// The kind of event (configuration change, approval, apply, …).
    public var category: AuditCategory
    /// What happened, dotted: `validate.failed`, `plan.computed`, `drift.detected`, `change.approved`.
    public var action: String
    /// The plant site the event concerns.
    public var site: String?
    /// The resource path the event concerns, e.g. `components/ignition-gateway`.
    public var resource: String?
    /// The change request the event belongs to.
    public var changeID: String?
    /// The plan the event refers to (an approval signs exactly one plan id).
    public var planID: String?
    /// The desired-state commit.
    public var commit: String?
    /// The old value, or a content hash of it.
    public var before: String?
    /// The new value, or a content hash of it.
    public var after: String?
    /// Why; for a signature, its meaning ("approved as plant manager").
    public var reason: String?
    /// Whether the action succeeded.
    public var result: AuditResult
    /// What went wrong, when `result` is `failure`.
    public var error: String?
    /// Further facts, as text; serialised with keys in UTF-8 byte order.
    public var details: [String: String]
    /// The `hash` of the record before this one; 64 zeros for the first record.
    public var previousHash: String
    /// Hex SHA-256 of ``canonicalBytes``.
    public var hash: String

    /// Creates a record from stored or exported fields. The hash is taken as given: ``AuditVerifier`` checks it.
    public init(
        sequence: Int64, id: String, timestamp: Date, actor: AuditActor, source: AuditSource, category: AuditCategory,
        action: String, site: String? = nil, resource: String? = nil, changeID: String? = nil, planID: String? = nil,
        commit: String? = nil, before: String? = nil, after: String? = nil, reason: String? = nil,
        result: AuditResult, error: String? = nil, details: [String: String] = [:], previousHash: String, hash: String
    ) {
        self.sequence = sequence
        self.id = id
        self.timestamp = timestamp
        self.actor = actor
        self.source = source
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
        self.result = result
        self.error = error
        self.details = details
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The `previousHash` of the first record.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The canonical serialisation that `hash` covers (compact JSON, sorted keys; see `docs/audit.md`).
    public var canonicalBytes: [UInt8] {
        let writer = CanonicalJSONWriter()
        writer.writeRecord(self, includeHashAndType: false)
        return writer.bytes
    }

    /// The hash this record should carry, recomputed from its fields.
    public var computedHash: String {
        var hasher = AuditHasher()
        return hasher.hash(of: self)
    }

    /// The timestamp as stored and hashed: `2026-03-01T12:00:00.123Z`.
    public var timestampText: String { AuditTimestamp.format(timestamp) }
}

/// Who caused an audit event.
public struct AuditActor: Sendable, Hashable, Codable {
    /// Stable user id (`mgr-plant-a`), or `interlock` for the reconciler itself.
    public var id: String
    /// The printed name shown with a signature ("Maria Keller").
    public var name: String
    /// The role the actor acted in ("plant manager", "flow manager", "reconciler").
    public var role: String
    /// How the actor was authenticated: `local-password`, `api-token`, `os-user`, `system`, ….
    public var authentication: String

    public init(id: String, name: String, role: String, authentication: String) {
        self.id = id
        self.name = name
        self.role = role
        self.authentication = authentication
    }

    /// Interlock itself (the reconciler acting on its own).
    public static let system = AuditActor(id: "interlock", name: "Interlock", role: "reconciler", authentication: "system")
}

/// Where an audit event was recorded from.
public struct AuditSource: Sendable, Hashable, Codable {
    /// Host name of the machine.
    public var host: String
    /// Process name (`interlock`, `interlockd`).
    public var process: String
    /// Operating-system process id.
    public var pid: Int64

    public init(host: String, process: String, pid: Int64) {
        self.host = host
        self.process = process
        self.pid = pid
    }

    /// This process on this host.
    public static var current: AuditSource {
        let info = ProcessInfo.processInfo
        return AuditSource(host: info.hostName, process: info.processName, pid: Int64(info.processIdentifier))
    }
}

/// The kind of an audit event.
public enum AuditCategory: String, Sendable, Hashable, Codable, CaseIterable {
    case configuration, plan, approval, apply, drift, access
    case auditLog = "audit-log"
    case system
}

/// Whether the audited action succeeded.
public enum AuditResult: String, Sendable, Hashable, Codable, CaseIterable {
    case success, failure
}
