import Foundation

/// Which records to read or export. Every filter that is set must match; records come ordered by sequence, ascending.
public struct AuditQuery: Sendable, Hashable {
    /// How ``AuditQuery/action`` matches.
    public enum ActionMatch: Sendable, Hashable {
        case exact(String)
        /// The action starts with this text (`plan.` matches `plan.computed` and `plan.superseded`).
        case prefix(String)

        /// `plan.*` and `plan.` are prefixes; anything else is exact.
        public static func parse(_ text: String) -> ActionMatch {
            if text.hasSuffix(".*") { return .prefix(String(text.dropLast())) }
            if text.hasSuffix("*") { return .prefix(String(text.dropLast())) }
            if text.hasSuffix(".") { return .prefix(text) }
            return .exact(text)
        }

        public func matches(_ action: String) -> Bool {
            switch self {
            case .exact(let value): action == value
            case .prefix(let value): action.hasPrefix(value)
            }
        }
    }

    public var site: String?
    /// Matches the actor's id or printed name exactly.
    public var actor: String?
    public var action: ActionMatch?
    public var category: AuditCategory?
    public var changeID: String?
    public var planID: String?
    /// Matches either the change id or the plan id (what `audit log --change` means).
    public var changeOrPlanID: String?
    /// Records at or after this instant.
    public var since: Date?
    /// Records strictly before this instant.
    public var until: Date?
    /// Only records whose sequence lies in this range.
    public var sequences: ClosedRange<Int64>?
    /// At most this many records.
    public var limit: Int?
    /// With `limit`: keep the newest records instead of the oldest (still returned ascending).
    public var keepNewest: Bool

    public init(
        site: String? = nil, actor: String? = nil, action: ActionMatch? = nil, category: AuditCategory? = nil,
        changeID: String? = nil, planID: String? = nil, changeOrPlanID: String? = nil, since: Date? = nil,
        until: Date? = nil, sequences: ClosedRange<Int64>? = nil, limit: Int? = nil, keepNewest: Bool = false
    ) {
        self.site = site
        self.actor = actor
        self.action = action
        self.category = category
        self.changeID = changeID
        self.planID = planID
        self.changeOrPlanID = changeOrPlanID
        self.since = since
        self.until = until
        self.sequences = sequences
        self.limit = limit
        self.keepNewest = keepNewest
    }

    /// Every record.
    public static let all = AuditQuery()

    /// True when the query selects every record (no filter and no limit): its result is the whole chain.
    public var selectsEverything: Bool { self == AuditQuery(keepNewest: keepNewest) }

    /// Whether `record` passes the filters (the limit is not considered).
    public func matches(_ record: AuditRecord) -> Bool {
        if let site, record.site != site { return false }
        if let actor, record.actor.id != actor, record.actor.name != actor { return false }
        if let action, !action.matches(record.action) { return false }
        if let category, record.category != category { return false }
        if let changeID, record.changeID != changeID { return false }
        if let planID, record.planID != planID { return false }
        if let changeOrPlanID, record.changeID != changeOrPlanID, record.planID != changeOrPlanID { return false }
        if let since, record.timestamp < AuditTimestamp.truncated(since) { return false }
        if let until, record.timestamp >= AuditTimestamp.truncated(until) { return false }
        if let sequences, !sequences.contains(record.sequence) { return false }
        return true
    }

    /// The filters as text, `site=plant-a action=plan.*`, or `all records`.
    public var summary: String {
        var parts: [String] = []
        if let site { parts.append("site=\(site)") }
        if let actor { parts.append("actor=\(actor)") }
        switch action {
        case .exact(let value): parts.append("action=\(value)")
        case .prefix(let value): parts.append("action=\(value)*")
        case nil: break
        }
        if let category { parts.append("category=\(category.rawValue)") }
        if let changeID { parts.append("change=\(changeID)") }
        if let planID { parts.append("plan=\(planID)") }
        if let changeOrPlanID { parts.append("change-or-plan=\(changeOrPlanID)") }
        if let since { parts.append("since=\(AuditTimestamp.format(since))") }
        if let until { parts.append("until=\(AuditTimestamp.format(until))") }
        if let sequences { parts.append("sequence=\(sequences.lowerBound)...\(sequences.upperBound)") }
        if let limit { parts.append("\(keepNewest ? "last" : "first")=\(limit)") }
        return parts.isEmpty ? "all records" : parts.joined(separator: " ")
    }
}
