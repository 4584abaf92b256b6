import Foundation

/// An ``AuditQuery`` as SQL over ``AuditSchema/recordColumns``, for SQLite and PostgreSQL alike.
enum AuditQuerySQL {
    enum Dialect {
        case sqlite, postgres

        func placeholder(_ index: Int) -> String { self == .sqlite ? "?" : "$\(index)" }
    }

    enum Value: Sendable, Hashable {
        case text(String)
        case integer(Int64)
    }

    static func select(_ query: AuditQuery, dialect: Dialect) -> (sql: String, values: [Value]) {
        var conditions: [String] = []
        var values: [Value] = []
        /// Adds a condition whose `?`s stand for `given`, in order.
        func add(_ condition: String, _ given: [Value]) {
            var text = ""
            var index = 0
            for character in condition {
                if character == "?" {
                    text += dialect.placeholder(values.count + index + 1)
                    index += 1
                } else {
                    text.append(character)
                }
            }
            conditions.append(text)
            values += given
        }
        if let site = query.site { add("site = ?", [.text(site)]) }
        if let actor = query.actor { add("(actor_id = ? OR actor_name = ?)", [.text(actor), .text(actor)]) }
        switch query.action {
        case .exact(let action): add("action = ?", [.text(action)])
        case .prefix(let prefix): add("substr(action, 1, length(?)) = ?", [.text(prefix), .text(prefix)])
        case nil: break
        }
        if let category = query.category { add("category = ?", [.text(category.rawValue)]) }
        if let change = query.changeID { add("change_id = ?", [.text(change)]) }
        if let plan = query.planID { add("plan_id = ?", [.text(plan)]) }
        if let id = query.changeOrPlanID { add("(change_id = ? OR plan_id = ?)", [.text(id), .text(id)]) }
        if let since = query.since { add("timestamp >= ?", [.text(AuditTimestamp.format(since))]) }
        if let until = query.until { add("timestamp < ?", [.text(AuditTimestamp.format(until))]) }
        if let range = query.sequences { add("sequence BETWEEN ? AND ?", [.integer(range.lowerBound), .integer(range.upperBound)]) }
        var sql = "SELECT \(AuditSchema.recordColumns) FROM audit_record"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        if let limit = query.limit {
            if query.keepNewest {
                sql = "SELECT * FROM (\(sql) ORDER BY sequence DESC LIMIT \(max(0, limit))) AS newest ORDER BY sequence"
            } else {
                sql += " ORDER BY sequence LIMIT \(max(0, limit))"
            }
        } else {
            sql += " ORDER BY sequence"
        }
        return (sql, values)
    }
}
