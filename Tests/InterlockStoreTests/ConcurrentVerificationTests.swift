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

    @Test func problemsAcrossBatchBoundariesAreTheSequentialVerifiersProblems() throws {
        let dir = try TemporaryDirectory()
        let key = AuditSigningKey()
        let store = try Self.tamperedLog(in: dir, key: key)
        let batch = Int64(ConcurrentAuditChainVerifier.batchSize)

        let result = try store.verify(trust: .external(key.publicKey))
        let expected = try Self.sequentialVerification(of: store, trust: .external(key.publicKey))

        #expect(result.problems == expected.problems)
        #expect(result.problemCount == expected.problemCount)
        #expect(result.recordCount == expected.recordCount)
        #expect(result.lastSequence == expected.lastSequence)
        #expect(result.headHash == expected.headHash)
        #expect(result.notes == expected.notes)
        #expect(result.anchored == expected.anchored)
        let found = result.problems.map { "\($0.sequence) \($0.kind.rawValue)" }
        for problem in ["\(batch) hashMismatch", "\(batch + 1) sequenceGap", "\(batch * 2 + 1) malformedRecord",
                        "\(batch * 2 + 2) previousHashMismatch", "\(batch * 2 + 7) timeWentBackwards"] {
            #expect(found.contains(problem), "missing \(problem) in \(found)")
        }
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
}
