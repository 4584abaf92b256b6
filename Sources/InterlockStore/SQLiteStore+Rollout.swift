import Foundation
import GRDB
import InterlockEngine

/// Rollout decisions and bake health checks, in the same file and transactions as the queue.
extension SQLiteStore: RolloutStore {
    public func rolloutOverrides(commit: String) throws -> [RolloutOverride] {
        try database("read rollout overrides") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT commit_id, action, user_id, user_name, reason, decided_at FROM rollout_override WHERE commit_id = ? ORDER BY id",
                                 arguments: [commit]).compactMap { row in
                    guard let action = RolloutOverride.Action(rawValue: row["action"]) else { return nil }
                    return RolloutOverride(commit: row["commit_id"], action: action, by: Person(id: row["user_id"], name: row["user_name"]),
                                           reason: row["reason"], at: AuditTimestamp.parse(row["decided_at"]) ?? .distantPast)
                }
            }
        }
    }

    public func addRolloutOverride(_ override: RolloutOverride, events: [AuditEvent]) throws {
        try database("record a rollout \(override.action.rawValue)") {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try db.execute(
                        sql: "INSERT INTO rollout_override (commit_id, action, user_id, user_name, reason, decided_at) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [override.commit, override.action.rawValue, override.by.id, override.by.name, override.reason, AuditTimestamp.format(override.at)])
                    _ = try appendRecords(events.map(QueueRows.entry), in: db)
                    return .commit
                }
            }
        }
    }

    public func lastHealthCheck(changeID: String) throws -> Date? {
        try database("read the last health check of \(changeID)") {
            try pool.read { db in
                try String.fetchOne(db, sql: "SELECT health_checked_at FROM change_request WHERE id = ?", arguments: [changeID]).flatMap(AuditTimestamp.parse)
            }
        }
    }

    public func recordHealthCheck(changeID: String, at: Date, events: [AuditEvent]) throws {
        try database("record a health check of \(changeID)") {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try db.execute(sql: "UPDATE change_request SET health_checked_at = ? WHERE id = ?", arguments: [AuditTimestamp.format(at), changeID])
                    _ = try appendRecords(events.map(QueueRows.entry), in: db)
                    return .commit
                }
            }
        }
    }
}
