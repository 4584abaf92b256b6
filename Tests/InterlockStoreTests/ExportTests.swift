import Foundation
import Testing
@testable import InterlockStore

@Suite("Export and verify without the database")
struct ExportTests {
    struct ExportedLog {
        let dir: TemporaryDirectory
        let key: AuditSigningKey
        let store: SQLiteStore
        let records: [AuditRecord]

        init(count: Int = 60) throws {
            dir = try TemporaryDirectory()
            key = try KeyStore.createIfMissing(in: dir.path).key
            store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
            _ = try store.checkpoint(signingKey: key)
            var entries = Fixture.entries(count)
            entries[5].details = ["note": "comma, \"quote\"\r\nnew line", "ünïcødé": "✓ 日本"]
            entries[6].before = "line1\nline2"
            let split = min(40, count)
            var records = try store.append(contentsOf: Array(entries[..<split]))
            _ = try store.checkpoint(signingKey: key)
            records += try store.append(contentsOf: Array(entries[split...]))
            _ = try store.checkpoint(signingKey: key)
            self.records = records
        }

        func export(_ format: AuditExportFormat, _ query: AuditQuery = .all) throws -> String {
            let path = dir.path + "/export-\(UUID().uuidString.prefix(6)).\(format.rawValue)"
            try store.export(matching: query, format: format, to: path)
            return path
        }
    }

    @Test(arguments: AuditExportFormat.allCases)
    func aCompleteExportRoundTripsAndVerifies(format: AuditExportFormat) throws {
        let log = try ExportedLog()
        let contents = try AuditExportReader.read(path: try log.export(format))
        #expect(contents.format == format)
        #expect(contents.complete)
        #expect(contents.records == log.records)
        #expect(contents.checkpoints == (try log.store.checkpoints()))
        let result = contents.verify(trust: .external(log.key.publicKey))
        #expect(result.ok, "\(result.problems.prefix(3))")
        #expect(result.anchored)
        #expect(result.recordCount == 60)
        #expect(result.headHash == log.records.last!.hash)
    }

    @Test(arguments: AuditExportFormat.allCases)
    func aTamperedExportIsDetected(format: AuditExportFormat) throws {
        let log = try ExportedLog()
        let path = try log.export(format)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let target = log.records[27]  // sequence 28, an approval: change its reason
        #expect(text.contains(target.reason!))
        let line = text.components(separatedBy: format == .csv ? "\r\n" : "\n").first { $0.contains(target.id) }!
        text = text.replacingOccurrences(of: line, with: line.replacingOccurrences(of: target.reason!, with: "approved by nobody"))
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try AuditExportReader.read(path: path).verify(trust: .external(log.key.publicKey))
        #expect(!result.ok)
        #expect(result.firstProblem?.sequence == 28)
        #expect(result.firstProblem?.kind == .hashMismatch)
    }

    @Test func aRecordDroppedFromACompleteExportIsAGap() throws {
        let log = try ExportedLog()
        let path = try log.export(.jsonl)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        try (lines.filter { !$0.contains(log.records[9].id) }.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let result = try AuditExportReader.read(path: path).verify(trust: .external(log.key.publicKey))
        #expect(result.firstProblem?.sequence == 10)
        #expect(result.firstProblem?.kind == .sequenceGap)
    }

    @Test func aFilteredExportSaysItCannotVerifyTheWholeChain() throws {
        let log = try ExportedLog()
        let query = AuditQuery(site: "plant-a")
        let contents = try AuditExportReader.read(path: try log.export(.jsonl, query))
        #expect(!contents.complete)
        #expect(contents.filter == "site=plant-a")
        #expect(contents.records == log.records.filter(query.matches))
        let result = contents.verify(trust: .external(log.key.publicKey))
        #expect(result.ok)
        #expect(!result.complete)
        #expect(result.notes.first?.contains("filtered export (site=plant-a)") == true)
        #expect(result.notes.first?.contains("cannot be verified") == true)
        // …but an edited record inside it is still caught by its own hash.
        var edited = contents
        edited.records[3].resource = "components/other"
        #expect(edited.verify(trust: .none).firstProblem?.sequence == edited.records[3].sequence)
    }

    @Test func aContiguousRangeExportChecksTheCheckpointsInside() throws {
        let log = try ExportedLog()
        let contents = try AuditExportReader.read(path: try log.export(.csv, AuditQuery(sequences: 30...45)))
        var result = contents.verify(trust: .external(log.key.publicKey))
        #expect(result.ok)
        #expect(result.lastCheckpoint?.sequence == 40)
        var tampered = contents
        tampered.checkpoints = tampered.checkpoints.map { var c = $0; if c.sequence == 40 { c.headHash = String(repeating: "ab", count: 32) }; return c }
        result = tampered.verify(trust: .none)
        #expect(result.firstProblem?.kind == .checkpointMismatch)
        #expect(result.firstProblem?.sequence == 40)
    }

    @Test func theExportedLineIsTheCanonicalFormPlusHashAndType() throws {
        let log = try ExportedLog(count: 8)
        let lines = try String(contentsOfFile: try log.export(.jsonl), encoding: .utf8).split(separator: "\n")
        let recordLine = String(lines[1])
        #expect(recordLine.hasPrefix("{\"action\":"))
        let canonical = String(decoding: log.records[0].canonicalBytes, as: UTF8.self)
        let expected = canonical.dropLast()
            .replacingOccurrences(of: ",\"id\":\"\(log.records[0].id)\"", with: ",\"hash\":\"\(log.records[0].hash)\",\"id\":\"\(log.records[0].id)\"")
            + ",\"type\":\"record\"}"
        #expect(recordLine == expected)
    }

    @Test func unreadableExportsAreRefusedWithTheLine() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/bad.jsonl"
        try "{\"type\":\"record\",\"sequence\":1}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try AuditExportReader.read(path: path) } throws: { "\($0)".contains("bad.jsonl:1") }
    }
}
