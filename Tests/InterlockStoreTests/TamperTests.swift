import Foundation
import GRDB
import Testing
@testable import InterlockStore

/// Tampering with a real database file through a separate connection, as someone with file access could:
/// each kind is detected, and the first bad record is named.
@Suite("Tamper detection")
struct TamperTests {
    /// A log of 50 records with checkpoints after 20 and 50, and the key that signed them.
    struct SignedLog {
        let dir: TemporaryDirectory
        let key: AuditSigningKey
        let records: [AuditRecord]

        init() throws {
            dir = try TemporaryDirectory()
            key = try KeyStore.createIfMissing(in: dir.path).key
            let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
            var records = try store.append(contentsOf: Fixture.entries(20))
            _ = try store.checkpoint(signingKey: key)
            records += try store.append(contentsOf: Fixture.entries(30, from: 20))
            _ = try store.checkpoint(signingKey: key)
            self.records = records
        }

        func tamper(_ sql: String...) throws {
            try Fixture.attacker(dir.databasePath).write { db in
                try Fixture.dropTriggers(db)
                for statement in sql { try db.execute(sql: statement) }
            }
        }

        func verify(external: Bool = true) throws -> AuditVerification {
            let store = try SQLiteStore(stateDirectory: dir.path)
            let trust: CheckpointTrust = external ? .external(key.publicKey) : .local(try KeyStore.loadPublicKey(from: dir.path))
            return try store.verify(trust: trust)
        }
    }

    @Test func anUntouchedLogVerifiesAndIsAnchored() throws {
        let log = try SignedLog()
        let result = try log.verify()
        #expect(result.ok)
        #expect(result.anchored)
        #expect(result.recordCount == 50)
        #expect(result.headHash == log.records.last!.hash)
        #expect(result.lastCheckpoint?.sequence == 50)
        #expect(result.uncheckpointedRecords == 0)
    }

    @Test func editingAFieldOfAnOldRecordIsAHashMismatchAtThatRecord() throws {
        let log = try SignedLog()
        try log.tamper("UPDATE audit_record SET reason = 'approved as line supervisor' WHERE sequence = 12")
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.firstProblem?.sequence == 12)
        #expect(result.firstProblem?.kind == .hashMismatch)
    }

    @Test func editingAFieldAndItsHashBreaksTheNextLinkAndTheCheckpoint() throws {
        let log = try SignedLog()
        var altered = log.records[11]
        altered.after = "sha256:forged"
        let hash = altered.computedHash
        try log.tamper("UPDATE audit_record SET after_value = 'sha256:forged', hash = '\(hash)' WHERE sequence = 12")
        let result = try log.verify()
        #expect(result.firstProblem?.sequence == 13)
        #expect(result.firstProblem?.kind == .previousHashMismatch)
    }

    @Test func deletingARecordIsASequenceGapNamingTheMissingRecord() throws {
        let log = try SignedLog()
        try log.tamper("DELETE FROM audit_record WHERE sequence = 7")
        let result = try log.verify()
        #expect(result.firstProblem?.sequence == 7)
        #expect(result.firstProblem?.kind == .sequenceGap)
        #expect(result.firstProblem?.message.contains("record 7 is missing") == true)
    }

    @Test func swappingTwoRecordsContentsIsDetectedAtTheFirstOfThem() throws {
        let log = try SignedLog()
        let columns = AuditSchema.recordColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 != "sequence" }
        let assignments = { (from: Int) in columns.map { "\($0) = (SELECT \($0) FROM saved WHERE sequence = \(from))" }.joined(separator: ", ") }
        try log.tamper(
            "CREATE TEMP TABLE saved AS SELECT * FROM audit_record WHERE sequence IN (30, 33)",
            // hash and previous_hash are UNIQUE: park them first
            "UPDATE audit_record SET id = 'x' || id, hash = 'x' || hash, previous_hash = 'x' || previous_hash WHERE sequence IN (30, 33)",
            "UPDATE audit_record SET \(assignments(33)) WHERE sequence = 30",
            "UPDATE audit_record SET \(assignments(30)) WHERE sequence = 33"
        )
        let swapped = try SQLiteStore(stateDirectory: log.dir.path).record(sequence: 30)
        #expect(swapped?.id == log.records[32].id)
        let result = try log.verify()
        #expect(result.firstProblem?.sequence == 30)
        #expect(result.firstProblem?.kind == .hashMismatch)
    }

    @Test func truncatingTheTailIsCaughtByTheCheckpoint() throws {
        let log = try SignedLog()
        try log.tamper("DELETE FROM audit_record WHERE sequence > 46")
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.firstProblem?.sequence == 47)
        #expect(result.firstProblem?.kind == .missingRecords)
        #expect(result.firstProblem?.message.contains("records 47…50 are missing") == true)
    }

    @Test func rewritingTheChainAndReSigningWithANewKeyIsCaughtOnlyByTheOutsideKey() throws {
        let log = try SignedLog()
        // The attacker alters record 5, recomputes every later hash and link, replaces the key pair, and re-signs.
        var records = log.records
        records[4].reason = "nothing to see"
        for index in 4..<records.count {
            if index > 4 { records[index].previousHash = records[index - 1].hash }
            records[index].hash = records[index].computedHash
        }
        let newKey = AuditSigningKey()
        let oldCheckpoints = try SQLiteStore(stateDirectory: log.dir.path).checkpoints()
        let forged = try oldCheckpoints.map { try AuditCheckpoint.signed(sequence: $0.sequence, headHash: records[Int($0.sequence) - 1].hash, timestamp: $0.timestamp, key: newKey) }
        try Fixture.attacker(log.dir.databasePath).write { db in
            try Fixture.dropTriggers(db)
            try db.execute(sql: "DELETE FROM audit_record")
            try db.execute(sql: "DELETE FROM audit_checkpoint")
            for record in records {
                try db.execute(sql: "INSERT INTO audit_record (\(AuditSchema.recordColumns)) VALUES (\(Array(repeating: "?", count: 25).joined(separator: ",")))", arguments: SQLiteStore.arguments(of: record))
            }
            for c in forged {
                try db.execute(sql: "INSERT INTO audit_checkpoint (sequence, head_hash, timestamp, key_id, signature) VALUES (?, ?, ?, ?, ?)",
                               arguments: [c.sequence, c.headHash, AuditTimestamp.format(c.timestamp), c.keyID, c.signature])
            }
        }
        try Data(newKey.rawRepresentation.base64EncodedString().utf8).write(to: URL(fileURLWithPath: KeyStore.privateKeyPath(in: log.dir.path)))
        try Data(newKey.publicKey.text.utf8).write(to: URL(fileURLWithPath: KeyStore.publicKeyPath(in: log.dir.path)))

        // Against the key in the state directory everything agrees — and the result says that proves little.
        let local = try log.verify(external: false)
        #expect(local.ok)
        #expect(!local.anchored)
        #expect(local.notes.contains { $0.contains("not that neither was replaced") && $0.contains("--public-key") })

        // Against the auditor's copy of the original public key: the first checkpoint's signature fails.
        let outside = try log.verify(external: true)
        #expect(!outside.ok)
        #expect(!outside.anchored)
        #expect(outside.firstProblem?.kind == .badSignature)
        #expect(outside.firstProblem?.sequence == 20)
        #expect(outside.firstProblem?.message.contains("signed by key \(newKey.publicKey.keyID)") == true)
    }

    @Test func aForgedCheckpointWithTheRightKeyIDIsABadSignature() throws {
        let log = try SignedLog()
        try log.tamper("UPDATE audit_checkpoint SET sequence = 19 WHERE sequence = 20")
        let result = try log.verify()
        #expect(result.firstProblem?.kind == .badSignature)
        #expect(result.firstProblem?.sequence == 19)
    }

    @Test func aTamperedColumnTypeIsReportedNotACrash() throws {
        let log = try SignedLog()
        try log.tamper("UPDATE audit_record SET site = 42, category = 'bogus' WHERE sequence = 3")
        let result = try log.verify()
        #expect(result.firstProblem?.sequence == 3)
        #expect(result.firstProblem?.kind == .malformedRecord)
        #expect(throws: AuditStoreError.self) { try SQLiteStore(stateDirectory: log.dir.path).records(matching: .all) }
    }

    @Test func timeGoingBackwardsIsReported() throws {
        let log = try SignedLog()
        let earlier = AuditTimestamp.format(log.records[8].timestamp.addingTimeInterval(-3600))
        try log.tamper("UPDATE audit_record SET timestamp = '\(earlier)' WHERE sequence = 9")
        let result = try log.verify()
        #expect(result.firstProblem?.sequence == 9)
        #expect(result.problems.contains { $0.kind == .timeWentBackwards && $0.sequence == 9 })
    }
}
