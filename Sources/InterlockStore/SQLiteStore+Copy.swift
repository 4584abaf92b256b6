import Foundation
import GRDB

/// What `interlock store copy` reads from and writes into an SQLite store.
extension SQLiteStore {
    public func ping() throws {
        _ = try database("read the database") { try pool.read { try Int.fetchOne($0, sql: "SELECT 1") } }
    }

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

extension SQLiteStore {
    public func exportQueue() throws -> QueueTables.Snapshot {
        try database("read the change queue") {
            try pool.read { db in
                var snapshot: QueueTables.Snapshot = [:]
                for table in QueueTables.tables {
                    snapshot[table.name] = try Row.fetchAll(db, sql: "SELECT \(table.columnList) FROM \(table.name) ORDER BY \(table.order)").map { row in
                        try table.columns.indices.map { index -> QueueTables.Cell in
                            let value: DatabaseValue = row[index]
                            switch value.storage {
                            case .null: return .null
                            case .int64(let number): return .integer(number)
                            case .string(let text): return table.columns[index].kind == .bytes ? .bytes(Data(text.utf8)) : .text(text)
                            case .blob(let data): return .bytes(data)
                            case .double(let number):
                                throw AuditStoreError(.corruptRecord, "\(table.name).\(table.columns[index].name) holds a number (\(number)) where Interlock writes no numbers")
                            }
                        }
                    }
                }
                return snapshot
            }
        }
    }

    public func importQueue(_ snapshot: QueueTables.Snapshot) throws {
        try database("copy the change queue") {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    for table in QueueTables.tables {
                        guard try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.name)") == 0 else {
                            throw AuditStoreError(.invalidEntry, "the target \(path) already holds rows in \(table.name); copy only into an empty database")
                        }
                        let insert = try db.makeStatement(sql: "INSERT INTO \(table.name) (\(table.columnList)) VALUES (\(table.columns.map { _ in "?" }.joined(separator: ", ")))")
                        for row in snapshot[table.name] ?? [] {
                            try insert.execute(arguments: StatementArguments(row.map { cell -> (any DatabaseValueConvertible)? in
                                switch cell {
                                case .null: return nil
                                case .text(let text): return text
                                case .integer(let number): return number
                                case .bytes(let data): return data
                                }
                            }))
                        }
                    }
                    return .commit
                }
            }
        }
    }
}
