import Foundation

/// An export read back: what `audit verify --export FILE` checks without the database.
public struct AuditExportContents: Sendable {
    public var format: AuditExportFormat
    /// Whether the header says the export holds the whole log. A missing header counts as filtered.
    public var complete: Bool
    /// The filter the export was made with, as written in its header.
    public var filter: String
    public var exportedAt: Date?
    public var records: [AuditRecord]
    public var checkpoints: [AuditCheckpoint]

    /// ``AuditCoverage`` implied by the header.
    public var coverage: AuditCoverage { complete ? .complete : .filtered(filter) }

    /// Verifies the export's records and checkpoints.
    /// - Parameter keptCheckpoints: checkpoints kept outside the system: the export must still extend them.
    public func verify(trust: CheckpointTrust, keptCheckpoints: [AuditCheckpoint] = []) -> AuditVerification {
        AuditVerifier.verify(records: records, checkpoints: checkpoints + keptCheckpoints, trust: trust, coverage: coverage)
    }
}

/// Reads JSON Lines and CSV exports written by ``AuditExportWriter`` (the format is recognised from the content).
///
/// A line or row that cannot be read throws, naming the line: an export that cannot be parsed is not verified.
public enum AuditExportReader {
    public static func read(path: String) throws -> AuditExportContents {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AuditStoreError(.io, "cannot read the export file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        if text.drop(while: { $0.isWhitespace }).first == "{" {
            return try readJSONLines(text, path: path)
        }
        return try readCSV(text, path: path)
    }

    // MARK: JSON Lines

    static func readJSONLines(_ text: String, path: String) throws -> AuditExportContents {
        var contents = AuditExportContents(format: .jsonl, complete: false, filter: "unknown (no export header)", exportedAt: nil, records: [], checkpoints: [])
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy(\.isWhitespace) { continue }
            func fail(_ what: String) -> AuditStoreError {
                AuditStoreError(.malformedExport, "\(path):\(lineNumber): \(what)")
            }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw fail("not a JSON object")
            }
            let fields = JSONFields(object: object, fail: fail)
            switch object["type"] as? String {
            case "export":
                contents.complete = (object["complete"] as? Bool) ?? false
                contents.filter = (object["filter"] as? String) ?? contents.filter
                contents.exportedAt = (object["exportedAt"] as? String).flatMap(AuditTimestamp.parse)
            case "record":
                let actor = try fields.object("actor"), source = try fields.object("source")
                let detailsObject = try fields.object("details")
                var details: [String: String] = [:]
                for (key, value) in detailsObject {
                    guard let text = value as? String else { throw fail("details.\(key) is not a string") }
                    details[key] = text
                }
                let a = JSONFields(object: actor, fail: fail), s = JSONFields(object: source, fail: fail)
                contents.records.append(AuditRecord(
                    sequence: try fields.integer("sequence"), id: try fields.string("id"), timestamp: try fields.timestamp("timestamp"),
                    actor: AuditActor(id: try a.string("id"), name: try a.string("name"), role: try a.string("role"), authentication: try a.string("authentication")),
                    source: AuditSource(host: try s.string("host"), process: try s.string("process"), pid: try s.integer("pid")),
                    category: try fields.enumeration("category"), action: try fields.string("action"), site: try fields.optional("site"),
                    resource: try fields.optional("resource"), changeID: try fields.optional("changeID"), planID: try fields.optional("planID"),
                    commit: try fields.optional("commit"), before: try fields.optional("before"), after: try fields.optional("after"),
                    reason: try fields.optional("reason"), result: try fields.enumeration("result"), error: try fields.optional("error"),
                    details: details, previousHash: try fields.string("previousHash"), hash: try fields.string("hash")
                ))
            case "checkpoint":
                contents.checkpoints.append(AuditCheckpoint(
                    sequence: try fields.integer("sequence"), headHash: try fields.string("headHash"), timestamp: try fields.timestamp("timestamp"),
                    signature: try fields.string("signature"), keyID: try fields.string("keyID")))
            default:
                throw fail("unknown line type \(object["type"].map { "\($0)" } ?? "(none)"); expected export, record or checkpoint")
            }
        }
        return contents
    }

    private struct JSONFields {
        var object: [String: Any]
        var fail: (String) -> AuditStoreError

        func string(_ key: String) throws -> String {
            guard let value = object[key] as? String else { throw fail("\(key) is missing or not a string") }
            return value
        }
        func optional(_ key: String) throws -> String? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw fail("\(key) is not a string or null") }
            return text
        }
        func integer(_ key: String) throws -> Int64 {
            if let value = object[key] as? Int { return Int64(value) }
            throw fail("\(key) is missing or not an integer")
        }
        func timestamp(_ key: String) throws -> Date {
            let text = try string(key)
            guard let date = AuditTimestamp.parse(text) else { throw fail("\(key) '\(text)' is not an ISO-8601 UTC timestamp") }
            return date
        }
        func object(_ key: String) throws -> [String: Any] {
            guard let value = object[key] as? [String: Any] else { throw fail("\(key) is missing or not an object") }
            return value
        }
        func enumeration<E: RawRepresentable>(_ key: String) throws -> E where E.RawValue == String {
            let text = try string(key)
            guard let value = E(rawValue: text) else { throw fail("\(key) '\(text)' is not a known value") }
            return value
        }
    }

    // MARK: CSV

    static func readCSV(_ text: String, path: String) throws -> AuditExportContents {
        guard let rows = CSV.parse(text), let header = rows.first else {
            throw AuditStoreError(.malformedExport, "\(path): not CSV (an unterminated quoted field?)")
        }
        guard header == AuditExportWriter.csvColumns else {
            throw AuditStoreError(.malformedExport, "\(path): the header row is not that of an Interlock audit export (\(AuditExportWriter.formatName))")
        }
        var contents = AuditExportContents(format: .csv, complete: false, filter: "unknown (no export row)", exportedAt: nil, records: [], checkpoints: [])
        let column = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        for (index, row) in rows.enumerated().dropFirst() {
            func fail(_ what: String) -> AuditStoreError { AuditStoreError(.malformedExport, "\(path): row \(index + 1): \(what)") }
            guard row.count == header.count else { throw fail("\(row.count) fields, expected \(header.count)") }
            func value(_ name: String) -> String { row[column[name]!] }
            func optional(_ name: String) -> String? { let v = value(name); return v.isEmpty ? nil : v }
            func integer(_ name: String) throws -> Int64 {
                guard let v = Int64(value(name)) else { throw fail("\(name) '\(value(name))' is not an integer") }
                return v
            }
            func timestamp() throws -> Date {
                guard let date = AuditTimestamp.parse(value("timestamp")) else { throw fail("timestamp '\(value("timestamp"))' is not an ISO-8601 UTC timestamp") }
                return date
            }
            switch value("type") {
            case "export":
                let meta = FlatJSONObject.parse(value("details")) ?? [:]
                contents.complete = meta["complete"] == "true"
                contents.filter = meta["filter"] ?? contents.filter
                contents.exportedAt = AuditTimestamp.parse(value("timestamp"))
            case "record":
                guard let category = AuditCategory(rawValue: value("category")) else { throw fail("unknown category '\(value("category"))'") }
                guard let result = AuditResult(rawValue: value("result")) else { throw fail("unknown result '\(value("result"))'") }
                guard let details = FlatJSONObject.parse(value("details")) else { throw fail("details are not a JSON object of strings") }
                contents.records.append(AuditRecord(
                    sequence: try integer("sequence"), id: value("id"), timestamp: try timestamp(),
                    actor: AuditActor(id: value("actor_id"), name: value("actor_name"), role: value("actor_role"), authentication: value("actor_authentication")),
                    source: AuditSource(host: value("source_host"), process: value("source_process"), pid: try integer("source_pid")),
                    category: category, action: value("action"), site: optional("site"), resource: optional("resource"),
                    changeID: optional("change_id"), planID: optional("plan_id"), commit: optional("commit"), before: optional("before"),
                    after: optional("after"), reason: optional("reason"), result: result, error: optional("error"), details: details,
                    previousHash: value("previous_hash"), hash: value("hash")
                ))
            case "checkpoint":
                contents.checkpoints.append(AuditCheckpoint(
                    sequence: try integer("sequence"), headHash: value("hash"), timestamp: try timestamp(),
                    signature: value("signature"), keyID: value("key_id")))
            default:
                throw fail("unknown row type '\(value("type"))'; expected export, record or checkpoint")
            }
        }
        return contents
    }
}
