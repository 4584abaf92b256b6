import Foundation
import GRDB

extension SQLiteStore {
    public func records(matching query: AuditQuery) throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        try forEachRecord(matching: query) { records.append($0) }
        return records
    }

    /// Calls `body` with each matching record, ascending, from one consistent snapshot of the log,
    /// without holding all records in memory. A record that cannot be read throws ``AuditStoreError``.
    public func forEachRecord(matching query: AuditQuery, _ body: (AuditRecord) throws -> Void) throws {
        let (sql, arguments) = SQLiteStore.select(query)
        try database("read audit records") {
            try pool.read { db in
                try AuditRecordCursor(db, sql: sql, arguments: arguments).forEach { row in
                    try body(try row.readable())
                }
            }
        }
    }

    /// At most `limit` records after sequence `after`, ascending, read in `db`'s transaction.
    static func records(_ db: Database, after: Int64, limit: Int) throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        try AuditRecordCursor(
            db, sql: "SELECT \(AuditSchema.recordColumns) FROM audit_record WHERE sequence > ? ORDER BY sequence LIMIT ?",
            arguments: [after, limit]
        ).forEach { records.append(try $0.readable()) }
        return records
    }

    public func record(sequence: Int64) throws -> AuditRecord? {
        try records(matching: AuditQuery(sequences: sequence...sequence)).first
    }

    public func count() throws -> Int64 {
        try database("count audit records") {
            try pool.read { try Int64.fetchOne($0, sql: "SELECT count(*) FROM audit_record") ?? 0 }
        }
    }

    public func head() throws -> AuditRecord? {
        try database("read the newest audit record") {
            try pool.read { db in
                let rows = try AuditRecordCursor(db, sql: "SELECT \(AuditSchema.recordColumns) FROM audit_record ORDER BY sequence DESC LIMIT 1")
                return try rows.next()?.readable()
            }
        }
    }

    /// Recomputes the whole chain and checks every checkpoint, from one consistent snapshot of the database.
    ///
    /// Pass the auditor's public key as `.external`; `.local` (the key in the state directory) only proves that the
    /// log and the key next to it agree. Unreadable rows are reported as problems, not thrown.
    /// - Parameter keptCheckpoints: checkpoints an auditor kept outside the system: the log must still extend them (hold
    ///   their record with their hash), whatever happened to the checkpoints stored in the database.
    public func verify(trust: CheckpointTrust, keptCheckpoints: [AuditCheckpoint] = []) throws -> AuditVerification {
        try database("verify the audit log") {
            try pool.read { db in
                let checkpoints = try SQLiteStore.checkpoints(db) + keptCheckpoints
                let statement = try db.makeStatement(sql: "SELECT \(AuditSchema.recordColumns) FROM audit_record ORDER BY sequence")
                var verifier = ConcurrentAuditChainVerifier(checkpoints: checkpoints, trust: trust, columnNames: statement.columnNames)
                let rows = try Row.fetchCursor(statement)
                while try rows.next() != nil { verifier.add(currentRowOf: statement.sqliteStatement) }
                return verifier.finish()
            }
        }
    }

    static func select(_ query: AuditQuery) -> (String, StatementArguments) {
        let (sql, values) = AuditQuerySQL.select(query, dialect: .sqlite)
        return (sql, StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .text(let text): return text
            case .integer(let number): return number
            }
        }))
    }
}

private extension Result<AuditRecord, AuditProblem> {
    /// The record, or the reason it could not be read as an ``AuditStoreError/Code/corruptRecord`` error.
    func readable() throws -> AuditRecord {
        switch self {
        case .success(let record): return record
        case .failure(let problem): throw AuditStoreError(.corruptRecord, problem.message)
        }
    }
}
