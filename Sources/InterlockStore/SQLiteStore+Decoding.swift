import Foundation
import GRDB

/// The rows of a query selecting ``AuditSchema/recordColumns``, each read as a record or as why it cannot be one.
///
/// Columns are read straight from the statement (`DatabaseValue(sqliteStatement:index:)`), not through `Row`'s
/// generic subscripts, which dominated the profile of ``SQLiteStore/verify(trust:)``.
final class AuditRecordCursor: Cursor {
    private let statement: Statement
    private let rows: RowCursor

    init(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws {
        statement = try db.makeStatement(sql: sql)
        rows = try Row.fetchCursor(statement, arguments: arguments)
    }

    func next() throws -> Result<AuditRecord, AuditProblem>? {
        guard try rows.next() != nil else { return nil }
        return SQLiteStore.decode(statement)
    }
}

extension SQLiteStore {
    /// The current row of `statement` (columns in ``AuditSchema/recordColumns`` order) as a record, or why it cannot
    /// be one. Never traps on unexpected column types: a tampered row becomes a `malformedRecord` problem.
    static func decode(_ statement: Statement) -> Result<AuditRecord, AuditProblem> {
        struct Malformed: Error { var what: String }
        func value(_ index: Int) -> DatabaseValue { DatabaseValue(sqliteStatement: statement.sqliteStatement, index: CInt(index)) }
        let sequenceValue = value(0)
        guard case .int64(let sequence) = sequenceValue.storage else {
            return .failure(AuditProblem(sequence: 0, kind: .malformedRecord, message: "a record has a non-integer sequence '\(sequenceValue)'"))
        }
        func optional(_ index: Int) throws -> String? {
            let value = value(index)
            switch value.storage {
            case .null: return nil
            case .string(let text): return text
            default: throw Malformed(what: "column \(statement.columnNames[index]) holds \(value), not text")
            }
        }
        func text(_ index: Int) throws -> String {
            guard let value = try optional(index) else {
                throw Malformed(what: "column \(statement.columnNames[index]) is empty (NULL)")
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
            let pidValue = value(9)
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
