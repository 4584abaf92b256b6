import Foundation

/// The change queue's tables as `interlock store copy` moves them: each row as it is, column for column, in the
/// same order on SQLite and PostgreSQL.
public enum QueueTables {
    enum Kind { case text, integer, bytes }

    struct Table {
        var name: String
        var columns: [(name: String, kind: Kind)]
        /// A stable order to read and write rows in (parents before children).
        var order: String

        var columnList: String { columns.map(\.name).joined(separator: ", ") }
    }

    /// A cell as both databases hold it.
    public enum Cell: Sendable, Hashable {
        case null
        case text(String)
        case integer(Int64)
        case bytes(Data)
    }

    /// In dependency order: approvals refer to their change.
    static let tables: [Table] = [
        Table(name: "change_request", columns: [
            ("id", .text), ("site", .text), ("number", .integer), ("plan_id", .text), ("commit_id", .text), ("plan", .text),
            ("gate", .text), ("status", .text), ("status_reason", .text), ("author_id", .text), ("author_name", .text),
            ("author_email", .text), ("commit_summary", .text), ("created_at", .text), ("updated_at", .text),
            ("emergency", .integer), ("owner", .text), ("receipt", .text), ("health_checked_at", .text), ("commits", .text),
            ("rule_changes", .text), ("lease_token", .integer),
        ], order: "site, number"),
        Table(name: "change_approval", columns: [
            ("change_id", .text), ("plan_id", .text), ("approver_id", .text), ("approver_name", .text), ("approver_email", .text),
            ("role", .text), ("meaning", .text), ("reason", .text), ("approved_at", .text), ("carried_from_change", .text), ("carried_from_plan", .text),
        ], order: "change_id, approver_id"),
        Table(name: "rollout_override", columns: [
            ("commit_id", .text), ("action", .text), ("user_id", .text), ("user_name", .text), ("reason", .text), ("decided_at", .text),
        ], order: "id"),
        Table(name: "site_baseline", columns: [
            ("site", .text), ("change_id", .text), ("commit_id", .text), ("site_file", .bytes), ("config_file", .bytes), ("applied_at", .text),
        ], order: "site"),
    ]

    /// Every table's rows, by table name.
    public typealias Snapshot = [String: [[Cell]]]
}
