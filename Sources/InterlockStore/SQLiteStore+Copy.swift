import Foundation
import GRDB

/// What `interlock store copy` reads from and writes into an SQLite store.
extension SQLiteStore {
    public func allSettings() throws -> [String: String] {
        try database("read the settings") {
            try pool.read { db in
                Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM instance_setting").map { ($0[0] as String, $0[1] as String) }) { $1 }
            }
        }
    }

    public func importRecords(_ records: [AuditRecord]) throws {
        guard !records.isEmpty else { return }
        try database("copy \(records.count) audit record(s)") {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    let head = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_record ORDER BY sequence DESC LIMIT 1")
                    try Self.checkContinues(records, head: head.map { ($0[0] as Int64, $0[1] as String) })
                    let insert = try db.cachedStatement(sql: "INSERT INTO audit_record (\(AuditSchema.recordColumns)) VALUES (\(Array(repeating: "?", count: AuditSchema.recordColumnCount).joined(separator: ",")))")
                    for record in records { try insert.execute(arguments: SQLiteStore.arguments(of: record)) }
                    return .commit
                }
            }
        }
    }

    public func importCheckpoints(_ checkpoints: [AuditCheckpoint], settings: [String: String]) throws {
        try database("copy \(checkpoints.count) checkpoint(s)") {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    for checkpoint in checkpoints {
                        try db.execute(
                            sql: "INSERT INTO audit_checkpoint (\(AuditSchema.checkpointColumns)) VALUES (?, ?, ?, ?, ?)",
                            arguments: [checkpoint.sequence, checkpoint.headHash, AuditTimestamp.format(checkpoint.timestamp), checkpoint.keyID, checkpoint.signature])
                    }
                    for (key, value) in settings {
                        try db.execute(sql: "INSERT OR REPLACE INTO instance_setting (key, value) VALUES (?, ?)", arguments: [key, value])
                    }
                    return .commit
                }
            }
        }
    }
}
