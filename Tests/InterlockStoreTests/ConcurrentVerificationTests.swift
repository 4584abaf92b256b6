import Foundation
import GRDB
import Testing
@testable import InterlockStore

/// `SQLiteStore.verify` hashes records on another thread, a batch at a time: across batch boundaries it must find
/// exactly what the one-record-at-a-time ``AuditChainVerifier`` finds, in the same order, with the same words.
@Suite("Concurrent verification")
struct ConcurrentVerificationTests {
    /// Two and a half batches of records, a checkpoint, and tampering at and around the batch boundaries.
    static func tamperedLog(in dir: TemporaryDirectory, key: AuditSigningKey) throws -> SQLiteStore {
        let batch = ConcurrentAuditChainVerifier.batchSize
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        _ = try store.append(contentsOf: Fixture.entries(batch * 2 + batch / 2))
        _ = try store.checkpoint(signingKey: key)
        try Fixture.attacker(dir.databasePath).write { db in
            try Fixture.dropTriggers(db)
            try db.execute(sql: "UPDATE audit_record SET reason = 'edited' WHERE sequence = ?", arguments: [batch])  // last of batch 1
            try db.execute(sql: "DELETE FROM audit_record WHERE sequence = ?", arguments: [batch + 1])
            try db.execute(sql: "UPDATE audit_record SET category = 'bogus' WHERE sequence = ?", arguments: [batch * 2 + 1])  // unreadable
            try db.execute(sql: "UPDATE audit_record SET timestamp = '2020-01-01T00:00:00.000Z' WHERE sequence = ?", arguments: [batch * 2 + 7])
        }
        return store
    }

    /// The same log checked by the sequential verifier, record by record.
    static func sequentialVerification(of store: SQLiteStore, trust: CheckpointTrust) throws -> AuditVerification {
        var verifier = AuditChainVerifier(checkpoints: try store.checkpoints(), trust: trust)
        try store.pool.read { db in
            let rows = try AuditRecordCursor(db, sql: "SELECT \(AuditSchema.recordColumns) FROM audit_record ORDER BY sequence")
            while let row = try rows.next() {
                switch row {
                case .success(let record): verifier.add(record)
                case .failure(let problem): verifier.addMalformed(problem)
                }
            }
        }
        return verifier.finish()
    }

    /// Verifies `store` both ways and expects the same outcome, word for word; returns the concurrent result.
    @discardableResult
    static func expectSameAsSequential(_ store: SQLiteStore, trust: CheckpointTrust = .none) throws -> AuditVerification {
        let result = try store.verify(trust: trust)
        let expected = try sequentialVerification(of: store, trust: trust)
        #expect(result.problems == expected.problems)
        #expect(result.problemCount == expected.problemCount)
        #expect(result.recordCount == expected.recordCount)
        #expect(result.lastSequence == expected.lastSequence)
        #expect(result.headHash == expected.headHash)
        #expect(result.notes == expected.notes)
        #expect(result.anchored == expected.anchored)
        #expect(result.uncheckpointedRecords == expected.uncheckpointedRecords)
        return result
    }

    @Test func problemsAcrossBatchBoundariesAreTheSequentialVerifiersProblems() throws {
        let dir = try TemporaryDirectory()
        let key = AuditSigningKey()
        let store = try Self.tamperedLog(in: dir, key: key)
        let batch = Int64(ConcurrentAuditChainVerifier.batchSize)

        let result = try Self.expectSameAsSequential(store, trust: .external(key.publicKey))
        let found = result.problems.map { "\($0.sequence) \($0.kind.rawValue)" }
        for problem in ["\(batch) hashMismatch", "\(batch + 1) sequenceGap", "\(batch * 2 + 1) malformedRecord",
                        "\(batch * 2 + 2) previousHashMismatch", "\(batch * 2 + 7) timeWentBackwards"] {
            #expect(found.contains(problem), "missing \(problem) in \(found)")
        }
    }

    /// More batches than are handed out at once, so batch buffers are reused: problems on the first and last row of
    /// batches, in the last, partial batch, and a run of them, still come out in order.
    @Test func problemsInManyBatchesComeOutInOrder() throws {
        let dir = try TemporaryDirectory()
        let batch = ConcurrentAuditChainVerifier.batchSize
        let count = batch * (ConcurrentAuditChainVerifier.batchesInFlight + 3) + 10
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        _ = try store.append(contentsOf: Fixture.entries(count))
        var edited = [1, batch, batch + 1, batch * 3, batch * 3 + 1, count - 1, count]
        edited += Array((batch * 5 + 100)...(batch * 5 + 110))
        try Fixture.attacker(dir.databasePath).write { db in
            try Fixture.dropTriggers(db)
            for sequence in edited {
                try db.execute(sql: "UPDATE audit_record SET action = action || '!' WHERE sequence = ?", arguments: [sequence])
            }
            try db.execute(sql: "UPDATE audit_record SET category = 'bogus' WHERE sequence = ?", arguments: [batch * 4])
            try db.execute(sql: "DELETE FROM audit_record WHERE sequence = ?", arguments: [batch * 6 + 1])
        }

        let result = try Self.expectSameAsSequential(store)
        let mismatches = result.problems.filter { $0.kind == .hashMismatch }.map(\.sequence)
        #expect(mismatches == edited.sorted().map(Int64.init))
        #expect(result.problems.contains { $0.kind == .malformedRecord && $0.sequence == batch * 4 })
        #expect(result.problems.contains { $0.kind == .sequenceGap && $0.sequence == batch * 6 + 1 })
        #expect(result.recordCount == count - 1)
    }

    /// Rows no writer of this log makes, but that someone with file access can: every kind of unreadable row is
    /// reported, with the decoder's words, in stored order.
    @Test func everyKindOfMalformedRowIsReportedAsTheDecoderReportsIt() throws {
        let dir = try TemporaryDirectory()
        let batch = ConcurrentAuditChainVerifier.batchSize
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        let records = try store.append(contentsOf: Fixture.entries(batch * 2 + 40))
        // The original timestamp followed by a NUL byte: GRDB reads the text up to the NUL, so the record is intact.
        let timestampWithNUL = "'\(records[20].timestampText)' || char(0) || 'junk'"
        let tampering: [(Int, String)] = [
            (3, "sequence = 'three'"), (5, "sequence = 5.5"), (7, "site = 42"), (9, "reason = 1.5"), (11, "details = X'7B7D'"),
            (13, "source_pid = 'abc'"), (15, "source_pid = NULL"), (17, "id = NULL"), (19, "timestamp = 'yesterday'"),
            (21, "timestamp = \(timestampWithNUL)"), (23, "category = 'bogus'"), (25, "result = 'maybe'"), (27, "details = '[1]'"),
            (29, "hash = NULL"), (31, "previous_hash = X'00'"), (33, "category = NULL"), (35, "sequence = NULL"),
            (37, "category = 'plan' || char(0)"), (39, "source_pid = 1.5"), (batch, "action = NULL"), (batch + 1, "result = 2"),
            (batch * 2 + 40, "timestamp = NULL"),
        ]
        try Fixture.attacker(dir.databasePath).write { db in
            try Fixture.dropTriggers(db)
            // Columns without a declared type keep whatever type they are given.
            try db.execute(sql: """
                ALTER TABLE audit_record RENAME TO typed_audit_record;
                CREATE TABLE audit_record (\(AuditSchema.recordColumns));
                INSERT INTO audit_record SELECT \(AuditSchema.recordColumns) FROM typed_audit_record;
                DROP TABLE typed_audit_record;
                """)
            for (sequence, assignment) in tampering {
                try db.execute(sql: "UPDATE audit_record SET \(assignment) WHERE sequence = ?", arguments: [sequence])
            }
        }

        let result = try Self.expectSameAsSequential(store)
        let malformed = result.problems.filter { $0.kind == .malformedRecord }.map(\.message)
        #expect(malformed.count == tampering.count - 2)  // all but the two with a NUL byte (see below)
        for message in [
            "a record has a non-integer sequence '\"three\"'", "a record has a non-integer sequence '5.5'",
            "a record has a non-integer sequence 'NULL'", "record 7: column site holds 42, not text",
            "record 9: column reason holds 1.5, not text", "record 11: column details holds Data(2 bytes), not text",
            "record 13: source_pid holds \"abc\", not an integer", "record 15: source_pid holds NULL, not an integer",
            "record 17: column id is empty (NULL)", "record 19: unreadable timestamp 'yesterday'",
            "record 23: unknown category 'bogus'", "record 25: unknown result 'maybe'",
            "record 27: details are not a JSON object of strings", "record 29: column hash is empty (NULL)",
            "record 31: column previous_hash holds Data(1 bytes), not text", "record 33: column category is empty (NULL)",
            "record 39: source_pid holds 1.5, not an integer", "record \(batch): column action is empty (NULL)",
            "record \(batch + 1): column result holds 2, not text", "record \(batch * 2 + 40): column timestamp is empty (NULL)",
        ] {
            #expect(malformed.contains(message), "missing '\(message)' in \(malformed)")
        }
        #expect(!result.problems.contains { $0.sequence == 21 })
        // GRDB reads 'plan' up to the NUL byte, a known category: the record reads, and only its link is broken.
        #expect(!result.problems.contains { $0.sequence == 37 && $0.kind == .malformedRecord })
    }

    /// Text stored in forms that read back as something else (a NUL byte, invalid UTF-8, a timestamp in another
    /// accepted form, details that are not canonical) and text that needs escaping: verification hashes what the
    /// decoder reads, so a log whose hashes were computed from that verifies, and a change to it is found.
    @Test func rowsAreHashedAsTheDecoderReadsThem() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        var records = try store.append(contentsOf: Fixture.entries(ConcurrentAuditChainVerifier.batchSize + 30))
        let invalidUTF8 = String(decoding: [0xC3, 0x78], as: UTF8.self)
        func timestamp(_ index: Int, _ form: (String) -> String) -> String { "'\(form(records[index].timestampText))'" }
        // Each edit: the record as the decoder reads it, and the SQL that stores it in the unusual form.
        let edits: [Int: (change: (inout AuditRecord) -> Void, stored: String)] = [
            1: ({ $0.reason = "abc" }, "reason = 'abc' || char(0) || 'def'"),
            2: ({ $0.reason = invalidUTF8 }, "reason = CAST(X'C378' AS TEXT)"),
            3: ({ $0.actor.name = "é" }, "actor_name = 'é' || char(0) || 'x'"),
            4: ({ $0.action = "plan.geprüft ✓" }, "action = 'plan.geprüft ✓'"),
            5: ({ $0.reason = "quarterly \"review\"\\\n\t\u{8}\u{c}\u{1f}\u{7f}" }, "reason = 'quarterly \"review\"\\' || char(10, 9, 8, 12, 31, 127)"),
            6: ({ _ in }, "timestamp = " + timestamp(6) { $0.replacingOccurrences(of: ".000Z", with: "Z") }),
            7: ({ _ in }, "timestamp = " + timestamp(7) { $0.replacingOccurrences(of: "Z", with: "+00:00") }),
            8: ({ _ in }, "timestamp = " + timestamp(8) { $0.replacingOccurrences(of: "T", with: " ") }),
            9: ({ _ in }, "timestamp = " + timestamp(9) { $0.replacingOccurrences(of: ".000Z", with: ".000000001Z") }),
            10: ({ $0.details = ["a": "1", "b": "2"] }, #"details = '{"b":"2","a":"1"}'"#),
            11: ({ $0.details = ["a": "1"] }, #"details = ' { "a" : "1" } '"#),
            12: ({ $0.details = ["a": "A"] }, #"details = '{"a":"\u0041"}'"#),
            13: ({ $0.details = ["a": "2"] }, #"details = '{"a":"1","a":"2"}'"#),
            14: ({ $0.details = ["é": "ü", "k": "line\nbreak"] }, #"details = '{"k":"line\nbreak","é":"ü"}'"#),
            15: ({ $0.details = [:] }, "details = ' {} '"),
            16: ({ $0.site = "" }, "site = ''"),
            17: ({ $0.source.pid = -5 }, "source_pid = -5"),
            18: ({ $0.details = ["a": "x"] }, "details = '{\"a\":\"x\"}' || char(0)"),
        ]
        for (index, edit) in edits { edit.change(&records[index]) }
        for index in records.indices {
            if index > 0 { records[index].previousHash = records[index - 1].hash }
            records[index].hash = records[index].computedHash
        }
        try Fixture.attacker(dir.databasePath).write { db in
            try Fixture.dropTriggers(db)
            try db.execute(sql: "DELETE FROM audit_record")
            for record in records {
                try db.execute(sql: "INSERT INTO audit_record (\(AuditSchema.recordColumns)) VALUES (\(Array(repeating: "?", count: AuditSchema.recordColumnCount).joined(separator: ",")))", arguments: SQLiteStore.arguments(of: record))
            }
            for (index, edit) in edits {
                try db.execute(sql: "UPDATE audit_record SET \(edit.stored) WHERE sequence = ?", arguments: [records[index].sequence])
            }
        }
        let read = try store.records(matching: .all)
        for (index, _) in edits { #expect(read[index] == records[index]) }
        #expect(try Self.expectSameAsSequential(store).ok)

        // Changing any of them is found, with the same recomputed hashes in the messages.
        try Fixture.attacker(dir.databasePath).write { db in
            for (index, _) in edits where index.isMultiple(of: 2) {
                try db.execute(sql: "UPDATE audit_record SET actor_role = actor_role || '.' WHERE sequence = ?", arguments: [records[index].sequence])
            }
            try db.execute(sql: "UPDATE audit_record SET details = '{\"a\":\"2\"}' WHERE sequence = ?", arguments: [records[11].sequence])
        }
        let tampered = try Self.expectSameAsSequential(store)
        #expect(tampered.problems.filter { $0.kind == .hashMismatch }.map(\.sequence) == [3, 5, 7, 9, 11, 12, 13, 15, 17, 19])
    }

    /// Rows too large for a full batch to stay small are handed over early; the result does not change.
    @Test func hugeRowsAreHandedOverEarly() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        let rowsPerBatch = 3
        let reason = String(repeating: "x", count: ConcurrentAuditChainVerifier.batchBytes / rowsPerBatch)
        let entries = Fixture.entries(rowsPerBatch * 4 + 1).enumerated().map { index, entry in
            var entry = entry
            if index.isMultiple(of: 2) { entry.reason = reason + String(index) }
            return entry
        }
        _ = try store.append(contentsOf: entries)
        #expect(try Self.expectSameAsSequential(store).ok)
        try Fixture.attacker(dir.databasePath).write { db in
            try Fixture.dropTriggers(db)
            try db.execute(sql: "UPDATE audit_record SET reason = reason || 'y' WHERE sequence IN (3, 9)")
        }
        let result = try Self.expectSameAsSequential(store)
        #expect(result.problems.map(\.sequence) == [3, 9])
    }

    @Test func anUntouchedLogOfSeveralBatchesVerifies() throws {
        let dir = try TemporaryDirectory()
        let key = AuditSigningKey()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        let records = try store.append(contentsOf: Fixture.entries(ConcurrentAuditChainVerifier.batchSize * 2 + 1))
        _ = try store.checkpoint(signingKey: key)

        let result = try store.verify(trust: .external(key.publicKey))
        #expect(result.ok)
        #expect(result.anchored)
        #expect(result.recordCount == records.count)
        #expect(result.headHash == records.last!.hash)
    }

    @Test func plainCanonicalDetailsAreRecognisedExactly() {
        func isPlain(_ text: String) -> Bool {
            var text = text
            return text.withUTF8 { FlatJSONObject.isCanonicalPlainASCII($0) }
        }
        for text in [#"{}"#, #"{"a":"1"}"#, #"{"A":"","a":"x y","b":"~"}"#, #"{"n":"123","o":"{}[],:"}"#] {
            #expect(isPlain(text), "\(text)")
            // What makes it plain: it is the canonical text of what it parses to.
            #expect(FlatJSONObject.parse(text).map(FlatJSONObject.canonical) == text)
        }
        for text in [#""#, #"{"#, #"{ }"#, #"{"a":"1",}"#, #"{"a":"1"} "#, #"{"b":"1","a":"2"}"#, #"{"a":"1","a":"2"}"#,
                     #"{"a":"\"}"#, #"{"a":"\u0041"}"#, "{\"a\":\"\t\"}", #"{"é":"1"}"#, #"{"a":1}"#, #"{"a":"1""#, #"{"a""1"}"#, #"[]"#] {
            #expect(!isPlain(text), "\(text)")
        }
    }
}
