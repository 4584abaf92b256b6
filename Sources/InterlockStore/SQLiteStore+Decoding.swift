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
        return SQLiteStore.decode(CurrentRow(statement: statement))
    }

    /// The statement's current row.
    private struct CurrentRow: AuditRecordColumns {
        let statement: Statement

        func value(_ field: AuditField) -> DatabaseValue {
            DatabaseValue(sqliteStatement: statement.sqliteStatement, index: CInt(field.rawValue))
        }

        func name(of field: AuditField) -> String { statement.columnNames[field.rawValue] }
    }
}

/// One stored row of ``AuditSchema/recordColumns``, wherever it is read from: the statement's current row, or a
/// copy of it that ``StoredRecordBatch`` took for another thread.
protocol AuditRecordColumns {
    /// The field's column as GRDB reads it (`DatabaseValue(sqliteStatement:index:)`).
    func value(_ field: AuditField) -> DatabaseValue
    /// The column's name as the statement reports it, for diagnostics.
    func name(of field: AuditField) -> String
}

extension SQLiteStore {
    /// A stored row as a record, or why it cannot be one. Never traps on unexpected column types: a tampered row
    /// becomes a `malformedRecord` problem.
    static func decode(_ row: some AuditRecordColumns) -> Result<AuditRecord, AuditProblem> {
        let sequenceValue = row.value(.sequence)
        guard case .int64(let sequence) = sequenceValue.storage else {
            return .failure(AuditProblem(sequence: 0, kind: .malformedRecord, message: "a record has a non-integer sequence '\(sequenceValue)'"))
        }
        func optional(_ field: AuditField) throws -> String? {
            let value = row.value(field)
            switch value.storage {
            case .null: return nil
            case .string(let text): return text
            default: throw Malformed(what: "column \(row.name(of: field)) holds \(value), not text")
            }
        }
        func text(_ field: AuditField) throws -> String {
            guard let value = try optional(field) else {
                throw Malformed(what: "column \(row.name(of: field)) is empty (NULL)")
            }
            return value
        }
        do {
            let timestampText = try text(.timestamp)
            guard let timestamp = AuditTimestamp.parse(timestampText) else { throw Malformed(what: "unreadable timestamp '\(timestampText)'") }
            let categoryText = try text(.category)
            guard let category = AuditCategory(rawValue: categoryText) else { throw Malformed(what: "unknown category '\(categoryText)'") }
            let resultText = try text(.result)
            guard let result = AuditResult(rawValue: resultText) else { throw Malformed(what: "unknown result '\(resultText)'") }
            guard let details = FlatJSONObject.parse(try text(.details)) else { throw Malformed(what: "details are not a JSON object of strings") }
            let pidValue = row.value(.sourcePID)
            guard case .int64(let pid) = pidValue.storage else { throw Malformed(what: "source_pid holds \(pidValue), not an integer") }
            return .success(AuditRecord(
                sequence: sequence, id: try text(.id), timestamp: timestamp,
                actor: AuditActor(id: try text(.actorID), name: try text(.actorName), role: try text(.actorRole), authentication: try text(.actorAuthentication)),
                source: AuditSource(host: try text(.sourceHost), process: try text(.sourceProcess), pid: pid),
                category: category, action: try text(.action), site: try optional(.site), resource: try optional(.resource),
                changeID: try optional(.changeID), planID: try optional(.planID), commit: try optional(.commit), before: try optional(.before),
                after: try optional(.after), reason: try optional(.reason), result: result, error: try optional(.error),
                details: details, previousHash: try text(.previousHash), hash: try text(.hash)
            ))
        } catch let error as Malformed {
            return .failure(AuditProblem(sequence: sequence, kind: .malformedRecord, message: "record \(sequence): \(error.what)"))
        } catch {
            return .failure(AuditProblem(sequence: sequence, kind: .malformedRecord, message: "record \(sequence): \(error)"))
        }
    }
}

/// Why a stored row cannot be read as a record.
private struct Malformed: Error { var what: String }
