import Foundation
import InterlockStore

/// The audit filters of `interlock audit log`, read from query parameters: `site`, `actor`, `action`
/// (`plan.*` for a prefix), `category`, `change` (change or plan id), `since`, `until` (ISO dates or
/// date-times in UTC, or `30m`, `24h`, `7d`, `2w` back from now) and `limit` (newest records).
struct AuditFilter {
    var fields: FormFields

    func query(now: Date = Date(), defaultLimit: Int?) throws(ServerError) -> AuditQuery {
        var query = AuditQuery(site: fields.text("site"), actor: fields.text("actor"), changeOrPlanID: fields.text("change"))
        if let action = fields.text("action") { query.action = .parse(action) }
        if let category = fields.text("category") {
            guard let value = AuditCategory(rawValue: category) else {
                throw ServerError(.badRequest, "unknown category '\(category)'; one of \(AuditCategory.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.category = value
        }
        if let since = fields.text("since") { query.since = try Self.time(since, name: "since", now: now, endOfDay: false) }
        if let until = fields.text("until") { query.until = try Self.time(until, name: "until", now: now, endOfDay: true) }
        if let limitText = fields.text("limit") {
            guard let limit = Int(limitText), limit >= 0 else { throw ServerError(.badRequest, "limit must be a whole number (0: all)") }
            query.limit = limit == 0 ? nil : limit
        } else {
            query.limit = defaultLimit
        }
        query.keepNewest = query.limit != nil
        return query
    }

    /// The filters again as a query string prefix (`site=plant-a&`), for export links.
    var exportQuery: String {
        ["site", "actor", "action", "category", "change", "since", "until"].compactMap { key in
            fields.text(key).map { "\(key)=\(FormFields.encode($0))&" }
        }.joined()
    }

    static func time(_ text: String, name: String, now: Date, endOfDay: Bool) throws(ServerError) -> Date {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        if let unit = text.last, let seconds = units[unit], let amount = Double(text.dropLast()), amount >= 0 {
            return now.addingTimeInterval(-amount * seconds)
        }
        var candidate = text.replacingOccurrences(of: " ", with: "T")
        if candidate.count == 10, let date = AuditTimestamp.parse(candidate + "T00:00:00Z") {
            return endOfDay ? date.addingTimeInterval(86400) : date
        }
        if !candidate.hasSuffix("Z"), !candidate.hasSuffix("+00:00") { candidate += "Z" }
        if candidate.count == 17 { candidate.insert(contentsOf: ":00", at: candidate.index(candidate.startIndex, offsetBy: 16)) }
        guard let date = AuditTimestamp.parse(candidate) else {
            throw ServerError(.badRequest, "\(name) '\(text)' is not a time: use 2026-03-01, 2026-03-01T12:00, 2026-03-01T12:00:00Z (UTC), or 30m, 24h, 7d, 2w")
        }
        return date
    }
}
