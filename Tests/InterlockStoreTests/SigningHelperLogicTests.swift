import Foundation
import Testing
@testable import InterlockStore

/// The signing helper's check that a log extends what it accepted, and verification following key rotations,
/// on a real database file.
@Suite("Signing helper")
struct SigningHelperLogicTests {
    /// A helper in-process that signs `store`'s head the way ``SignerClient`` does, without a socket.
    struct InProcess: CheckpointSigner {
        let helper: SigningHelper

        func signingPublicKey() throws -> AuditPublicKey { helper.key.publicKey }

        func signCheckpoint(sequence: Int64, headHash: String, now: Date, records: (Int64, Int) throws -> [AuditRecord]) throws -> [AuditCheckpoint] {
            let state = helper.current
            let batch = try records(state.sequence, SigningHelper.recordsPerRequest)
            let response = helper.handle(SignerRequest(op: "extend", fromSequence: state.sequence, fromHash: state.headHash, records: batch, sign: true))
            guard response.ok, let checkpoint = response.checkpoint else { throw SigningHelper.Refusal(description: response.error ?? "?") }
            return (response.endorsement.map { [$0] } ?? []) + [checkpoint]
        }
    }

    func extend(_ helper: SigningHelper, _ records: [AuditRecord], from: (Int64, String)? = nil) -> SignerResponse {
        let state = helper.current
        return helper.handle(SignerRequest(
            op: "extend", fromSequence: from?.0 ?? state.sequence, fromHash: from?.1 ?? state.headHash, records: records, sign: true))
    }

    @Test func acceptsOnlyAnIntactExtensionAndRemembersItAcrossRestarts() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        let records = try store.append(contentsOf: Fixture.entries(10))
        let key = AuditSigningKey()
        let helper = try SigningHelper(key: key, stateDirectory: dir.path + "/signer")

        var altered = records[4]
        altered.reason = "changed"
        #expect(extend(helper, Array(records[0..<4]) + [altered]).error?.contains("hash to") == true, "a changed field")
        #expect(extend(helper, Array(records[1..<5])).error?.contains("follows 0") == true, "a gap at the start")
        #expect(extend(helper, [records[0], records[2]]).error?.contains("gap") == true)
        #expect(helper.current == .initial, "a refusal changes nothing")

        let first = extend(helper, Array(records[0..<6]))
        #expect(first.ok && first.checkpoint?.sequence == 6)
        #expect(first.checkpoint?.isSigned(by: key.publicKey) == true)

        // Restarted, the helper still refuses anything shorter or different than record 6.
        let restarted = try SigningHelper(key: key, stateDirectory: dir.path + "/signer", now: { Date(timeIntervalSince1970: 0) })
        #expect(restarted.current.sequence == 6)
        #expect(extend(restarted, [], from: (5, records[4].hash)).error?.contains("truncated") == true)
        #expect(extend(restarted, [], from: (6, records[4].hash)).error?.contains("rewritten") == true)
        let later = extend(restarted, Array(records[6...]))
        #expect(later.ok && later.checkpoint?.sequence == 10)
        // Its clock is at 1970, but a checkpoint never goes back before the last one it signed.
        #expect(later.checkpoint!.timestamp >= first.checkpoint!.timestamp)
        #expect(extend(restarted, Array(repeating: records[0], count: SigningHelper.recordsPerRequest + 1), from: (10, records[9].hash)).error?.contains("at most") == true)

        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir.path + "/signer/" + SigningHelper.stateFileName))
        #expect(throws: AuditStoreError.self) { try SigningHelper(key: key, stateDirectory: dir.path + "/signer") }
    }

    @Test func aRotationIsFollowedOnlyWhenATrustedKeyEndorsesIt() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        let old = AuditSigningKey(), new = AuditSigningKey(), mallory = AuditSigningKey()
        _ = try store.append(contentsOf: Fixture.entries(5))
        _ = try store.checkpoint(signingKey: old)
        _ = try store.append(AuditEntry(
            actor: .system, category: .auditLog, action: KeyRotation.action, before: old.publicKey.keyID, after: new.publicKey.keyID,
            details: ["publicKey": new.publicKey.base64, "previousPublicKey": old.publicKey.base64]))
        let helper = try SigningHelper(key: new, previousKey: old, stateDirectory: dir.path + "/signer")
        let signed = try store.checkpoint(signer: InProcess(helper: helper))
        #expect(signed.keyID == new.publicKey.keyID)
        #expect(try store.checkpoints().suffix(2).map(\.keyID) == [old.publicKey.keyID, new.publicKey.keyID], "the old key endorsed the rotation")
        _ = try store.append(contentsOf: Fixture.entries(3, from: 5))
        _ = try store.checkpoint(signer: InProcess(helper: helper))

        var withOld = try store.verify(trust: .external(old.publicKey))
        withOld.requireAnchoring(maximumUnanchored: 0)
        #expect(withOld.ok, "\(withOld.problems)")
        let withNew = try store.verify(trust: .external(new.publicKey))
        #expect(withNew.ok, "\(withNew.problems)")

        // Mallory appends a rotation to her own key and signs with it: nothing trusted endorses it.
        _ = try store.append(AuditEntry(
            actor: .system, category: .auditLog, action: KeyRotation.action,
            details: ["publicKey": mallory.publicKey.base64, "previousPublicKey": new.publicKey.base64]))
        _ = try store.checkpoint(signingKey: mallory)
        let forged = try store.verify(trust: .external(old.publicKey))
        #expect(forged.problems.contains { $0.kind == .badSignature && $0.message.contains("no checkpoint of a trusted key endorses") })
        // And the retired key cannot sign past its rotation.
        _ = try store.checkpoint(signingKey: old)
        let retired = try store.verify(trust: .external(new.publicKey))
        #expect(retired.problems.contains { $0.kind == .badSignature && $0.message.contains("retired key") })
    }

    /// A key the record names as a rotation's previous key may confirm old checkpoints, but never hand trust on: a
    /// stolen old key "endorsing" a rotation to the thief's key must not make that key trusted.
    @Test func aPreviousKeyNamedByARecordNeverEndorses() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        let stolen = AuditSigningKey(), mallory = AuditSigningKey(), helperKey = AuditSigningKey()
        _ = try store.append(contentsOf: Fixture.entries(3))
        _ = try store.checkpoint(signingKey: stolen)
        // With the stolen key, Mallory records a rotation to her key and "endorses" it.
        _ = try store.append(AuditEntry(
            actor: .system, category: .auditLog, action: KeyRotation.action,
            details: ["publicKey": mallory.publicKey.base64, "previousPublicKey": stolen.publicKey.base64]))
        _ = try store.checkpoint(signingKey: stolen)
        // Later the log moves to the helper; its rotation names the old key, and the helper signs over it.
        _ = try store.append(AuditEntry(
            actor: .system, category: .auditLog, action: KeyRotation.action,
            details: ["publicKey": helperKey.publicKey.base64, "previousPublicKey": stolen.publicKey.base64]))
        _ = try store.checkpoint(signingKey: helperKey)
        _ = try store.append(contentsOf: Fixture.entries(2, from: 6))
        let forged = try store.checkpoint(signingKey: mallory)

        let result = try store.verify(trust: .external(helperKey.publicKey))
        #expect(!result.ok)
        #expect(result.problems.contains { $0.kind == .badSignature && $0.sequence == forged.sequence && $0.message.contains(mallory.publicKey.keyID) },
                "\(result.problems)")
        // The old key named by the record still confirms its own checkpoints, which the helper's chain fixes.
        #expect(!result.problems.contains { $0.kind == .badSignature && $0.sequence < forged.sequence }, "\(result.problems)")
    }
}
