import Foundation
import InterlockTestSupport
import Testing
@testable import InterlockStore

/// One contract, two stores: every test here runs against the embedded SQLite file and against a real PostgreSQL
/// server, and both must behave the same way — the same records, hashes and checkpoints, the same refusals.
@Suite("Audit store conformance (SQLite and PostgreSQL)", .serialized)
struct AuditStoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func appendsLinkByHashAndReadBackIdentically(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind, clock: SteppingClock(step: 0.0015))
        let store = under.store
        let first = try store.append(Fixture.entry(0))
        var entry = Fixture.entry(2)
        entry.details = ["zeta": "last", "Alpha": "upper", "ä": "umlaut", "quote": "he said \"no\"\n\ttab\u{1}"]
        entry.reason = "Grund: Wartung ✓"
        let rest = try store.append(contentsOf: [entry] + Fixture.entries(4, from: 1))
        #expect(first.sequence == 1 && first.previousHash == AuditRecord.genesisHash)
        #expect(rest.map(\.sequence) == [2, 3, 4, 5, 6])
        #expect(rest[0].previousHash == first.hash && rest[4].previousHash == rest[3].hash)
        #expect(try store.count() == 6)
        #expect(try store.head() == rest[4])
        #expect(try store.record(sequence: 2) == rest[0])
        #expect(try store.record(sequence: 99) == nil)
        #expect(try store.records(matching: .all) == [first] + rest)
        #expect(try store.records(matching: .all).allSatisfy { $0.hash == $0.computedHash })
        #expect(try store.verify(trust: .none, keptCheckpoints: []).ok)
        // Another connection (another replica) sees the same log and continues the same chain.
        let other = try under.another()
        let next = try other.append(Fixture.entry(7))
        #expect(next.sequence == 7 && next.previousHash == rest[4].hash)
        #expect(try store.head() == next)
    }

    @Test(arguments: StoreKind.allCases)
    func filtersBySiteActorActionCategoryChangeTimeAndSequence(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind, clock: SteppingClock(step: 60))
        let store = under.store
        let all = try store.append(contentsOf: Fixture.entries(40))
        func sequences(_ query: AuditQuery) throws -> [Int64] { try store.records(matching: query).map(\.sequence) }
        #expect(try sequences(AuditQuery(site: "plant-a")) == all.filter { $0.site == "plant-a" }.map(\.sequence))
        #expect(try sequences(AuditQuery(actor: "Maria Keller")).count == 10)
        #expect(try sequences(AuditQuery(action: .prefix("plan."))) == all.filter { $0.action.hasPrefix("plan.") }.map(\.sequence))
        #expect(try sequences(AuditQuery(category: .approval)).count == 10)
        #expect(try sequences(AuditQuery(changeOrPlanID: "plan-13")) == [14, 16])
        #expect(try sequences(AuditQuery(since: all[9].timestamp, until: all[12].timestamp)) == [10, 11, 12])
        #expect(try sequences(AuditQuery(sequences: 5...7)) == [5, 6, 7])
        #expect(try sequences(AuditQuery(limit: 3)) == [1, 2, 3])
        #expect(try sequences(AuditQuery(limit: 3, keepNewest: true)) == [38, 39, 40])
        let query = AuditQuery(site: "plant-b", action: .exact("drift.detected"), since: all[20].timestamp)
        #expect(try store.records(matching: query) == all.filter(query.matches))
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchIsStoredWholeOrNotAtAllAndLargeBatchesStayOneChain(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let store = under.store
        let rejection = AuditEntry(actor: Fixture.manager, category: .plan, action: "change.rejected", changeID: "chg-1")
        #expect(throws: AuditEntryError.self) { try store.append(contentsOf: [Fixture.entry(0), rejection]) }
        #expect(try store.count() == 0)
        // More records than one INSERT statement and one read page hold.
        let written = try store.append(contentsOf: Fixture.entries(4_500))
        #expect(written.map(\.sequence) == Array(1...4_500))
        var read: [Int64] = []
        try store.forEachRecord(matching: .all) { read.append($0.sequence) }
        #expect(read == Array(1...4_500))
        #expect(try store.records(matching: AuditQuery(sequences: 2_001...2_003)).map(\.hash) == written[2_000...2_002].map(\.hash))
        let verification = try store.verify(trust: .none, keptCheckpoints: [])
        #expect(verification.ok && verification.recordCount == 4_500 && verification.headHash == written.last!.hash)
    }

    @Test(arguments: StoreKind.allCases)
    func timestampsNeverGoBackwardsWhenAWritersClockIsBehind(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let first = try under.store.append(Fixture.entry(0))
        // Another replica whose clock is an hour behind.
        let behind = SteppingClock(start: first.timestamp.addingTimeInterval(-3600))
        let second = try under.another(clock: behind).append(Fixture.entry(1))
        #expect(second.timestamp == first.timestamp)
        #expect(second.details["clockSteppedBackTo"] == AuditTimestamp.format(first.timestamp.addingTimeInterval(-3600)))
        #expect(try under.store.verify(trust: .none, keptCheckpoints: []).ok)
    }

    @Test(arguments: StoreKind.allCases)
    func recordsAndCheckpointsRefuseUpdatesAndDeletes(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        _ = try under.store.append(contentsOf: Fixture.entries(3))
        _ = try under.store.checkpoint(signingKey: AuditSigningKey())
        var statements = ["UPDATE audit_record SET reason = 'x' WHERE sequence = 1", "DELETE FROM audit_record WHERE sequence = 3",
                          "UPDATE audit_checkpoint SET sequence = 1", "DELETE FROM audit_checkpoint"]
        if kind == .postgres { statements += ["TRUNCATE audit_record", "TRUNCATE audit_checkpoint"] }
        for statement in statements {
            #expect { try under.execute(statement) } throws: { "\($0)".contains("append-only") }
        }
        #expect(try under.store.count() == 3)
        #expect(try under.store.checkpoints().count == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func tamperingIsFoundAtTheRecordItHappened(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let key = AuditSigningKey()
        var records = try under.store.append(contentsOf: Fixture.entries(20))
        _ = try under.store.checkpoint(signingKey: key)
        records += try under.store.append(contentsOf: Fixture.entries(30, from: 20))
        _ = try under.store.checkpoint(signingKey: key)
        let clean = try under.store.verify(trust: .external(key.publicKey), keptCheckpoints: [])
        #expect(clean.ok && clean.anchored && clean.lastCheckpoint?.sequence == 50)

        try under.tamper("UPDATE audit_record SET reason = 'approved as line supervisor' WHERE sequence = 12")
        let edited = try under.store.verify(trust: .external(key.publicKey), keptCheckpoints: [])
        #expect(edited.firstProblem?.sequence == 12 && edited.firstProblem?.kind == .hashMismatch)

        try under.tamper("DELETE FROM audit_record WHERE sequence = 30")
        let gap = try under.store.verify(trust: .external(key.publicKey), keptCheckpoints: [])
        #expect(gap.problems.contains { $0.sequence == 30 && $0.kind == .sequenceGap })

        try under.tamper("DELETE FROM audit_record WHERE sequence > 46")
        let truncated = try under.store.verify(trust: .external(key.publicKey), keptCheckpoints: [])
        #expect(truncated.problems.contains { $0.kind == .missingRecords && $0.message.contains("records 47…50 are missing") })
        // Also when the checkpoints are deleted with the tail: the auditor's kept checkpoint still catches it.
        try under.tamper("DELETE FROM audit_checkpoint")
        let kept = try under.store.verify(trust: .external(key.publicKey), keptCheckpoints: [
            try AuditCheckpoint.signed(sequence: 50, headHash: records[49].hash, timestamp: Date(), key: key),
        ])
        #expect(kept.problems.contains { $0.kind == .missingRecords })
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentWritersOnSeparateConnectionsMakeOneChain(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let writers = try (0..<4).map { _ in try under.another(clock: SystemAuditClock()) }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: writers.count) { index in
            for n in 0..<25 {
                do {
                    if n % 5 == 0 {
                        _ = try writers[index].append(contentsOf: Fixture.entries(4, from: n))
                    } else {
                        _ = try writers[index].append(Fixture.entry(n))
                    }
                    if n % 10 == 9 { _ = try writers[index].checkpoint(signingKey: AuditSigningKey()) }
                } catch {
                    failures.add("\(error)")
                }
            }
        }
        #expect(failures.all == [])
        #expect(try under.store.count() == 4 * (20 + 5 * 4))
        let verification = try under.store.verify(trust: .none, keptCheckpoints: [])
        #expect(verification.ok, "\(verification.problems)")
        let records = try under.store.records(matching: .all)
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.hash == $1.previousHash && $0.timestamp <= $1.timestamp })
    }

    @Test(arguments: StoreKind.allCases)
    func theSigningHelperSeesEveryRecordAndSettingsCommitWithTheirRecords(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let dir = try TemporaryDirectory()
        let key = AuditSigningKey()
        let helper = try SigningHelper(key: key, stateDirectory: dir.path + "/signer")
        _ = try under.store.append(contentsOf: Fixture.entries(5))
        let signed = try under.store.checkpoint(signer: SigningHelperLogicTests.InProcess(helper: helper))
        #expect(signed.sequence == 5 && signed.isSigned(by: key.publicKey))
        #expect(helper.current.sequence == 5)
        // A record that fails validation stores neither the setting nor any record.
        let bad = AuditEntry(actor: Fixture.manager, category: .plan, action: "change.rejected")
        #expect(throws: AuditEntryError.self) { try under.store.setSettings(["audit.signerSocket": "/run/x"], entries: [bad]) }
        #expect(try under.store.setting("audit.signerSocket") == nil)
        try under.store.setSettings(["audit.signerSocket": "/run/x"], entries: [Fixture.entry(0)])
        try under.store.setSettings(["audit.signerSocket": "/run/y"], entries: [])
        #expect(try under.store.setting("audit.signerSocket") == "/run/y")
        #expect(try under.store.count() == 6)
        #expect(try under.store.verify(trust: .external(key.publicKey), keptCheckpoints: []).ok)
    }
}

/// Errors collected from several threads.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ failure: String) { lock.lock(); list.append(failure); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
}
