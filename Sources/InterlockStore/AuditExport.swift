import Foundation

/// Writes audit records and checkpoints for auditors, in one of two formats (see `docs/audit.md`):
///
/// - **JSON Lines**: a first line `{"type":"export",…}` describing the export (format, whether it is complete,
///   the filter, when), then one line per record — the record's canonical JSON plus `"hash"` and `"type":"record"`,
///   so removing those two keys and hashing the rest gives the hash — then one line per checkpoint (`"type":"checkpoint"`).
/// - **CSV** (RFC 4180, CRLF): a header row, then rows with a `type` column: one `export` row, `record` rows
///   (all fields, details as canonical JSON, empty = absent), then `checkpoint` rows (sequence, timestamp,
///   `hash` = head hash, `key_id`, `signature`).
///
/// Every checkpoint is exported, whatever the filter, so signatures can always be checked.
public enum AuditExportFormat: String, Sendable, CaseIterable {
    case csv, jsonl
}

/// Streams an export to a file: header, records as they come, then checkpoints.
public final class AuditExportWriter {
    /// The format identifier written into every export.
    public static let formatName = "interlock-audit-export-v1"
    public static let csvColumns = [
        "type", "sequence", "id", "timestamp", "actor_id", "actor_name", "actor_role", "actor_authentication",
        "source_host", "source_process", "source_pid", "category", "action", "site", "resource", "change_id",
        "plan_id", "commit", "before", "after", "reason", "result", "error", "details", "previous_hash", "hash",
        "key_id", "signature",
    ]

    public let format: AuditExportFormat
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let writer = CanonicalJSONWriter(capacity: 2048)
    /// Records written so far.
    public private(set) var recordCount = 0

    /// Creates (truncating) `path` and writes the header.
    public init(path: String, format: AuditExportFormat, query: AuditQuery, exportedAt: Date) throws {
        self.format = format
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw AuditStoreError(.io, "cannot create the export file \(path)")
        }
        self.handle = handle
        let complete = query.selectsEverything
        switch format {
        case .jsonl:
            writer.reset()
            writer.raw("{"); writer.key("complete"); writer.raw(complete ? "true" : "false")
            writer.raw(","); writer.key("exportedAt"); writer.timestamp(exportedAt)
            writer.raw(","); writer.key("filter"); writer.string(query.summary)
            writer.raw(","); writer.key("format"); writer.string(Self.formatName)
            writer.raw(","); writer.key("type"); writer.raw("\"export\"}")
            writer.withBytes { buffer.append(contentsOf: $0) }
            buffer.append(10)
        case .csv:
            buffer += Array(CSV.row(Self.csvColumns).utf8)
            var row = Array(repeating: "", count: Self.csvColumns.count)
            row[0] = "export"
            row[3] = AuditTimestamp.format(exportedAt)
            row[23] = FlatJSONObject.canonical(["complete": complete ? "true" : "false", "filter": query.summary, "format": Self.formatName])
            buffer += Array(CSV.row(row).utf8)
        }
    }

    /// Appends one record.
    public func write(_ r: AuditRecord) throws {
        switch format {
        case .jsonl:
            writer.reset()
            writer.writeRecord(r, includeHashAndType: true)
            writer.withBytes { buffer.append(contentsOf: $0) }
            buffer.append(10)
        case .csv:
            let row: [String] = [
                "record", String(r.sequence), r.id, r.timestampText, r.actor.id, r.actor.name, r.actor.role,
                r.actor.authentication, r.source.host, r.source.process, String(r.source.pid), r.category.rawValue,
                r.action, r.site ?? "", r.resource ?? "", r.changeID ?? "", r.planID ?? "", r.commit ?? "",
                r.before ?? "", r.after ?? "", r.reason ?? "", r.result.rawValue, r.error ?? "",
                FlatJSONObject.canonical(r.details), r.previousHash, r.hash, "", "",
            ]
            buffer += Array(CSV.row(row).utf8)
        }
        recordCount += 1
        if buffer.count > 1 << 20 { try flush() }
    }

    /// Appends the checkpoints and closes the file (flushed and synced).
    public func finish(checkpoints: [AuditCheckpoint]) throws {
        for c in checkpoints {
            switch format {
            case .jsonl:
                writer.reset()
                writer.writeCheckpoint(c)
                writer.withBytes { buffer.append(contentsOf: $0) }
                buffer.append(10)
            case .csv:
                var row = Array(repeating: "", count: Self.csvColumns.count)
                row[0] = "checkpoint"
                row[1] = String(c.sequence)
                row[3] = AuditTimestamp.format(c.timestamp)
                row[25] = c.headHash
                row[26] = c.keyID
                row[27] = c.signature
                buffer += Array(CSV.row(row).utf8)
            }
        }
        try flush()
        try handle.synchronize()
        try handle.close()
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

extension AuditLog {
    /// Writes the records matching `query`, and all checkpoints, to `path`; returns the number of records written.
    @discardableResult
    public func export(matching query: AuditQuery, format: AuditExportFormat, to path: String, exportedAt: Date = Date()) throws -> Int {
        let checkpoints = try checkpoints()
        let writer = try AuditExportWriter(path: path, format: format, query: query, exportedAt: exportedAt)
        try forEachRecord(matching: query) { try writer.write($0) }
        try writer.finish(checkpoints: checkpoints)
        return writer.recordCount
    }

    /// Default for ``AuditLog/forEachRecord(matching:_:)``: loads the matching records, then calls `body`.
    public func forEachRecord(matching query: AuditQuery, _ body: (AuditRecord) throws -> Void) throws {
        for record in try records(matching: query) { try body(record) }
    }
}
