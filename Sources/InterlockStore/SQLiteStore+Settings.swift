import Foundation
import GRDB

/// Small named values of the instance kept next to the audit log (which configuration file it trusts, …). Every
/// change is written together with the audit records that describe it.
extension SQLiteStore {
    public func setting(_ key: String) throws -> String? {
        try database("read the setting \(key)") {
            try pool.read { try String.fetchOne($0, sql: "SELECT value FROM instance_setting WHERE key = ?", arguments: [key]) }
        }
    }

    /// Sets `values` and appends `entries` in one transaction.
    public func setSettings(_ values: [String: String], entries: [AuditEntry]) throws {
        for entry in entries { try entry.validate() }
        try database("record settings \(values.keys.sorted().joined(separator: ", "))") {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    for (key, value) in values {
                        try db.execute(sql: "INSERT OR REPLACE INTO instance_setting (key, value) VALUES (?, ?)", arguments: [key, value])
                    }
                    _ = try appendRecords(entries, in: db)
                    return .commit
                }
            }
        }
    }
}
