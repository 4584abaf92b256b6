import Foundation
import GRDB
import GRDBSQLite

/// Rows of ``AuditSchema/recordColumns`` copied out of SQLite as they are stored, so that another thread can decode
/// and hash them while the reading thread steps on.
///
/// Copying is all the reading thread does: each column's type and value, with the bytes of text and blobs appended
/// to one buffer per batch, so it makes no `String`, `Date` or dictionary per field. ``appendLinks(to:hasher:)``
/// then reads each row exactly as ``SQLiteStore/decode(_:)`` reads the statement's current row.
///
/// A class over buffers it allocates once, like ``CanonicalJSONWriter``, for the same reason: twenty-five appends
/// per row through arrays cost more than the copying. Not `Sendable`: one thread at a time uses a batch.
final class StoredRecordBatch {
    /// One column as SQLite stored it.
    enum Value {
        case null
        case integer(Int64)
        case real(Double)
        /// Bytes in the batch's buffer, as stored (a NUL byte or invalid UTF-8 included).
        case text(Range<Int>)
        case blob(Range<Int>)
    }

    /// Which columns of a row hold what, as bits by column position: noted while copying, so that a worker can
    /// tell whether a row has the usual types without looking at each value.
    struct ColumnTypes {
        var nulls: UInt32 = 0
        var integers: UInt32 = 0
        /// Reals and blobs, which no column of a record holds.
        var others: UInt32 = 0
    }

    /// The column names the statement reports, for diagnostics.
    let columnNames: [String]
    let rowCapacity: Int
    /// ``AuditSchema/recordColumnCount`` values per row, rows in stored order.
    private let values: UnsafeMutablePointer<Value>
    /// One per row.
    private let types: UnsafeMutablePointer<ColumnTypes>
    /// The bytes of every text and blob value, one after the other.
    private var bytes: UnsafeMutablePointer<UInt8>
    private var byteCapacity: Int
    /// Rows held.
    private(set) var count = 0
    /// Bytes of text and blobs held.
    private(set) var byteCount = 0

    init(columnNames: [String], rowCapacity: Int) {
        self.columnNames = columnNames
        self.rowCapacity = rowCapacity
        values = .allocate(capacity: rowCapacity * AuditSchema.recordColumnCount)
        types = .allocate(capacity: rowCapacity)
        byteCapacity = rowCapacity * 512
        bytes = .allocate(capacity: byteCapacity)
    }

    deinit {
        values.deinitialize(count: count * AuditSchema.recordColumnCount)
        values.deallocate()
        types.deinitialize(count: count)
        types.deallocate()
        bytes.deallocate()
    }

    var isFull: Bool { count == rowCapacity }

    /// Empties the batch, keeping its buffers for the next rows.
    func removeAll() {
        values.deinitialize(count: count * AuditSchema.recordColumnCount)
        types.deinitialize(count: count)
        count = 0
        byteCount = 0
    }

    /// Copies the current row of `statement`, which selects ``AuditSchema/recordColumns``: the values GRDB's
    /// `DatabaseValue(sqliteStatement:index:)` reads, through the `sqlite3_value_*` counterparts of the
    /// `sqlite3_column_*` functions it calls.
    ///
    /// Each `sqlite3_column_*` call enters and leaves the connection's mutex and checks for a failed allocation;
    /// going through `sqlite3_column_value` once per column takes about 15 % off the reading thread. SQLite
    /// calls such a value unprotected: safe only while no other thread uses the connection, which GRDB guarantees
    /// for the duration of the read.
    func append(currentRowOf statement: SQLiteStatement) {
        precondition(!isFull, "the batch is full")
        let row = values + count * AuditSchema.recordColumnCount
        var rowTypes = ColumnTypes()
        for index in 0..<CInt(AuditSchema.recordColumnCount) {
            let column = sqlite3_column_value(statement, index)
            let value: Value
            let bit: UInt32 = 1 << index
            switch sqlite3_value_type(column) {
            case SQLITE_INTEGER:
                value = .integer(sqlite3_value_int64(column))
                rowTypes.integers |= bit
            case SQLITE_TEXT:
                let text = sqlite3_value_text(column)  // before sqlite3_value_bytes, which then counts UTF-8
                value = .text(copy(text, count: sqlite3_value_bytes(column)))
            case SQLITE_FLOAT:
                value = .real(sqlite3_value_double(column))
                rowTypes.others |= bit
            case SQLITE_BLOB:
                let blob = sqlite3_value_blob(column)
                value = .blob(copy(blob, count: sqlite3_value_bytes(column)))
                rowTypes.others |= bit
            default:  // SQLITE_NULL, the only other type
                value = .null
                rowTypes.nulls |= bit
            }
            (row + Int(index)).initialize(to: value)
        }
        (types + count).initialize(to: rowTypes)
        count += 1
    }

    private func copy(_ start: UnsafeRawPointer?, count: CInt) -> Range<Int> {
        let offset = byteCount
        guard let start, count > 0 else { return offset..<offset }
        let count = Int(count)
        if byteCapacity - offset < count {
            byteCapacity = max(offset + count, byteCapacity * 2)
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: byteCapacity)
            grown.initialize(from: bytes, count: offset)
            bytes.deallocate()
            bytes = grown
        }
        UnsafeMutableRawPointer(bytes + offset).copyMemory(from: start, byteCount: count)
        byteCount += count
        return offset..<byteCount
    }

    /// Reads each row as ``SQLiteStore/decode(_:)`` would, recomputes its hash, and appends its chain link, or
    /// why it cannot be read, to `outcomes`: last row first, so that the caller can move them out with `popLast`.
    func appendLinks(to outcomes: inout [Result<AuditChainLink, AuditProblem>], hasher: inout AuditHasher) {
        let columns = AuditSchema.recordColumnCount
        let bytes = UnsafeBufferPointer(start: bytes, count: byteCount)
        var row = count
        while row > 0 {
            row -= 1
            let stored = StoredRecord(
                values: UnsafeBufferPointer(start: values + row * columns, count: columns), types: types[row], bytes: bytes, columnNames: columnNames)
            outcomes.append(stored.link(hasher: &hasher))
        }
    }
}

/// One row of a ``StoredRecordBatch``, used while the batch's buffers are borrowed.
private struct StoredRecord: AuditRecordColumns {
    /// This row's values, one per ``AuditField``.
    let values: UnsafeBufferPointer<StoredRecordBatch.Value>
    let types: StoredRecordBatch.ColumnTypes
    /// The batch's buffer, which text and blob values point into.
    let bytes: UnsafeBufferPointer<UInt8>
    let columnNames: [String]

    subscript(field: AuditField) -> StoredRecordBatch.Value { values[field.rawValue] }

    /// The field's stored bytes, or nil when it holds anything but text.
    func text(_ field: AuditField) -> UnsafeBufferPointer<UInt8>? {
        guard case .text(let range) = self[field] else { return nil }
        return UnsafeBufferPointer(rebasing: bytes[range])
    }

    func value(_ field: AuditField) -> DatabaseValue {
        switch self[field] {
        case .null: return .null
        case .integer(let value): return value.databaseValue
        case .real(let value): return value.databaseValue
        case .text(let range): return String(storedText: UnsafeBufferPointer(rebasing: bytes[range])).databaseValue
        case .blob(let range): return Data(bytes[range]).databaseValue
        }
    }

    func name(of field: AuditField) -> String { columnNames[field.rawValue] }

    /// The row's chain link with its own hash checked, or why the row cannot be read.
    func link(hasher: inout AuditHasher) -> Result<AuditChainLink, AuditProblem> {
        if let plain = PlainStoredRecord(self) { return .success(plain.link(hasher: &hasher)) }
        return SQLiteStore.decode(self).map { AuditChainLink($0, hasher: &hasher) }
    }
}

/// A stored row that ``SQLiteStore/decode(_:)`` would read as a record whose canonical bytes are, field by field,
/// the stored bytes (the timestamp parsed and formatted again, as always): every column of the expected type,
/// timestamp, category and result readable, and the details in their plain canonical form. Nearly every row is
/// one, and is hashed straight from the stored bytes; any other row is decoded, with the decoder's results and
/// messages.
private struct PlainStoredRecord: CanonicalRecordFields {
    private static let categories = AuditCategory.allCases.map { Array($0.rawValue.utf8) }
    private static let results = AuditResult.allCases.map { Array($0.rawValue.utf8) }

    let row: StoredRecord
    let sequence: Int64
    let pid: Int64
    let timestamp: Date

    /// Columns that may be NULL (absent optional fields), and columns that hold integers, as bits by position.
    private static let optionalColumns: UInt32 = AuditField.allCases.filter(\.isOptional).reduce(0) { $0 | 1 << $1.rawValue }
    private static let integerColumns: UInt32 = 1 << AuditField.sequence.rawValue | 1 << AuditField.sourcePID.rawValue

    init?(_ row: StoredRecord) {
        // Text everywhere else; so the guards below find text where they unwrap it.
        guard row.types.others == 0, row.types.nulls & ~Self.optionalColumns == 0, row.types.integers == Self.integerColumns,
              case .integer(let sequence) = row[.sequence], case .integer(let pid) = row[.sourcePID],
              let timestamp = AuditTimestamp.parse(utf8: row.text(.timestamp)!),
              let category = row.text(.category), Self.categories.contains(where: { $0.elementsEqual(category) }),
              let result = row.text(.result), Self.results.contains(where: { $0.elementsEqual(result) }),
              FlatJSONObject.isCanonicalPlainASCII(row.text(.details)!)
        else { return nil }
        self.row = row
        self.sequence = sequence
        self.pid = pid
        self.timestamp = timestamp
    }

    func write(_ field: AuditField, to writer: CanonicalJSONWriter) {
        switch field {
        case .sequence: writer.integer(sequence)
        case .sourcePID: writer.integer(pid)
        case .timestamp: writer.timestamp(timestamp)
        case .details: writer.canonical(row.text(.details)!)
        default:
            if let text = row.text(field) { writer.storedText(text) } else { writer.raw("null") }
        }
    }

    func link(hasher: inout AuditHasher) -> AuditChainLink {
        let digest = hasher.digest(of: self)
        let hash = Self.chainHash(row.text(.hash)!)
        return AuditChainLink(
            sequence: sequence, timestamp: timestamp, previousHash: Self.chainHash(row.text(.previousHash)!), hash: hash,
            computedHashIfChanged: hash.isHex(of: digest) ? nil : hexString(digest), rotation: rotation)
    }

    private static let rotationAction = Array(KeyRotation.action.utf8)
    private static let auditLogCategory = Array(AuditCategory.auditLog.rawValue.utf8)

    /// The key rotation this row records, read only for the rare row whose action says it is one.
    private var rotation: KeyRotation? {
        guard let action = row.text(.action), action.elementsEqual(Self.rotationAction),
              let category = row.text(.category), category.elementsEqual(Self.auditLogCategory),
              case .success(let record) = SQLiteStore.decode(row) else { return nil }
        return KeyRotation(record)
    }

    /// The hash GRDB reads from `text`: inline when it is a well-formed hash, or else as the `String` it reads.
    private static func chainHash(_ text: UnsafeBufferPointer<UInt8>) -> ChainHash {
        ChainHash(utf8: text) ?? ChainHash(String(storedText: text))
    }
}

private extension AuditField {
    /// Whether the column may be NULL (an absent optional field).
    var isOptional: Bool {
        switch self {
        case .site, .resource, .changeID, .planID, .commit, .before, .after, .reason, .error: return true
        default: return false
        }
    }
}
