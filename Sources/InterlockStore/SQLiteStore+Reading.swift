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
                let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                while let row = try rows.next() {
                    switch SQLiteStore.decode(row) {
                    case .success(let record): try body(record)
                    case .failure(let problem): throw AuditStoreError(.corruptRecord, problem.message)
                    }
                }
            }
        }
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
                guard let row = try Row.fetchOne(db, sql: "SELECT \(AuditSchema.recordColumns) FROM audit_record ORDER BY sequence DESC LIMIT 1") else { return nil }
                switch SQLiteStore.decode(row) {
                case .success(let record): return record
                case .failure(let problem): throw AuditStoreError(.corruptRecord, problem.message)
                }
            }
        }
    }

    /// Recomputes the whole chain and checks every checkpoint, from one consistent snapshot of the database.
    ///
    /// Pass the auditor's public key as `.external`; `.local` (the key in the state directory) only proves that the
    /// log and the key next to it agree. Unreadable rows are reported as problems, not thrown.
    public func verify(trust: CheckpointTrust) throws -> AuditVerification {
        try database("verify the audit log") {
            try pool.read { db in
                let checkpoints = try SQLiteStore.checkpoints(db)
                var verifier = AuditChainVerifier(checkpoints: checkpoints, trust: trust, coverage: .complete)
                let rows = try Row.fetchCursor(db, sql: "SELECT \(AuditSchema.recordColumns) FROM audit_record ORDER BY sequence")
                while let row = try rows.next() {
                    switch SQLiteStore.decode(row) {
                    case .success(let record): verifier.add(record)
                    case .failure(let problem): verifier.addMalformed(problem)
                    }
                }
                return verifier.finish()
            }
        }
    }

    static func select(_ query: AuditQuery) -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments = StatementArguments()
        func add(_ condition: String, _ values: [(any DatabaseValueConvertible)?]) {
            conditions.append(condition)
            arguments += StatementArguments(values)
        }
        if let site = query.site { add("site = ?", [site]) }
        if let actor = query.actor { add("(actor_id = ? OR actor_name = ?)", [actor, actor]) }
        switch query.action {
        case .exact(let action): add("action = ?", [action])
        case .prefix(let prefix): add("substr(action, 1, length(?)) = ?", [prefix, prefix])
        case nil: break
        }
        if let category = query.category { add("category = ?", [category.rawValue]) }
        if let change = query.changeID { add("change_id = ?", [change]) }
        if let plan = query.planID { add("plan_id = ?", [plan]) }
        if let id = query.changeOrPlanID { add("(change_id = ? OR plan_id = ?)", [id, id]) }
        if let since = query.since { add("timestamp >= ?", [AuditTimestamp.format(since)]) }
        if let until = query.until { add("timestamp < ?", [AuditTimestamp.format(until)]) }
        if let range = query.sequences { add("sequence BETWEEN ? AND ?", [range.lowerBound, range.upperBound]) }
        var sql = "SELECT \(AuditSchema.recordColumns) FROM audit_record"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        if let limit = query.limit {
            if query.keepNewest {
                sql = "SELECT * FROM (\(sql) ORDER BY sequence DESC LIMIT \(max(0, limit))) ORDER BY sequence"
            } else {
                sql += " ORDER BY sequence LIMIT \(max(0, limit))"
            }
        } else {
            sql += " ORDER BY sequence"
        }
        return (sql, arguments)
    }

    /// A row of `audit_record` (columns in ``AuditSchema/recordColumns`` order) as a record, or why it cannot be one.
    /// Never traps on unexpected column types: a tampered row becomes a `malformedRecord` problem.
    static func decode(_ row: Row) -> Result<AuditRecord, AuditProblem> {
        struct Malformed: Error { var what: String }
        let sequenceValue: DatabaseValue = row[0]
        guard case .int64(let sequence) = sequenceValue.storage else {
            return .failure(AuditProblem(sequence: 0, kind: .malformedRecord, message: "a record has a non-integer sequence '\(sequenceValue)'"))
        }
        func optional(_ index: Int) throws -> String? {
            let value: DatabaseValue = row[index]
            switch value.storage {
            case .null: return nil
            case .string(let text): return text
            default: throw Malformed(what: "column \(Array(row.columnNames)[index]) holds \(value), not text")
            }
        }
        func text(_ index: Int) throws -> String {
            guard let value = try optional(index) else {
                throw Malformed(what: "column \(Array(row.columnNames)[index]) is empty (NULL)")
            }
            return value
        }
        do {
            let timestampText = try text(2)
            guard let timestamp = AuditTimestamp.parse(timestampText) else { throw Malformed(what: "unreadable timestamp '\(timestampText)'") }
            let categoryText = try text(10)
            guard let category = AuditCategory(rawValue: categoryText) else { throw Malformed(what: "unknown category '\(categoryText)'") }
            let resultText = try text(20)
            guard let result = AuditResult(rawValue: resultText) else { throw Malformed(what: "unknown result '\(resultText)'") }
            guard let details = FlatJSONObject.parse(try text(22)) else { throw Malformed(what: "details are not a JSON object of strings") }
            let pidValue: DatabaseValue = row[9]
            guard case .int64(let pid) = pidValue.storage else { throw Malformed(what: "source_pid holds \(pidValue), not an integer") }
            return .success(AuditRecord(
                sequence: sequence, id: try text(1), timestamp: timestamp,
                actor: AuditActor(id: try text(3), name: try text(4), role: try text(5), authentication: try text(6)),
                source: AuditSource(host: try text(7), process: try text(8), pid: pid),
                category: category, action: try text(11), site: try optional(12), resource: try optional(13),
                changeID: try optional(14), planID: try optional(15), commit: try optional(16), before: try optional(17),
                after: try optional(18), reason: try optional(19), result: result, error: try optional(21),
                details: details, previousHash: try text(23), hash: try text(24)
            ))
        } catch let error as Malformed {
            return .failure(AuditProblem(sequence: sequence, kind: .malformedRecord, message: "record \(sequence): \(error.what)"))
        } catch {
            return .failure(AuditProblem(sequence: sequence, kind: .malformedRecord, message: "record \(sequence): \(error)"))
        }
    }
}
