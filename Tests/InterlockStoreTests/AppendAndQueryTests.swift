import Foundation
import GRDB
import Testing
@testable import InterlockStore

@Suite("Appending and querying")
struct AppendAndQueryTests {
    @Test func appendsAssignGaplessSequencesLinkedByHash() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        let first = try store.append(Fixture.entry(0))
        let rest = try store.append(contentsOf: Fixture.entries(5, from: 1))
        #expect(first.sequence == 1)
        #expect(first.previousHash == AuditRecord.genesisHash)
        #expect(rest.map(\.sequence) == [2, 3, 4, 5, 6])
        #expect(rest[0].previousHash == first.hash)
        #expect(rest[4].previousHash == rest[3].hash)
        #expect(try store.count() == 6)
        #expect(try store.head() == rest[4])
        #expect(try store.record(sequence: 3) == rest[1])
        #expect(try store.record(sequence: 99) == nil)
        #expect(first.hash == first.computedHash)
        #expect(first.hash.count == 64)
        #expect(first.timestampText == "2026-03-01T12:00:00.000Z")
        #expect(try store.verify(trust: .none).ok)
    }

    @Test func storedRecordsReadBackIdentically() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock(step: 0.0015))
        var entry = Fixture.entry(2)
        entry.details = ["zeta": "last", "Alpha": "upper", "ä": "umlaut", "quote": "he said \"no\"\n\ttab\u{1}"]
        entry.reason = "Grund: Wartung ✓"
        let written = try store.append(contentsOf: [entry, Fixture.entry(3)])
        let read = try store.records(matching: .all)
        #expect(read == written)
        #expect(read.allSatisfy { $0.hash == $0.computedHash })
        #expect(read[1].timestampText == "2026-03-01T12:00:00.002Z")  // 1.5 ms rounded to the millisecond
    }

    @Test func filtersBySiteActorActionCategoryChangeTimeAndSequence() throws {
        let dir = try TemporaryDirectory()
        let clock = SteppingClock(step: 60)
        let store = try SQLiteStore(stateDirectory: dir.path, clock: clock)
        let all = try store.append(contentsOf: Fixture.entries(40))
        func sequences(_ query: AuditQuery) throws -> [Int64] { try store.records(matching: query).map(\.sequence) }

        #expect(try sequences(AuditQuery(site: "plant-a")) == all.filter { $0.site == "plant-a" }.map(\.sequence))
        #expect(try sequences(AuditQuery(actor: "mgr-plant-a")) == all.filter { $0.actor.id == "mgr-plant-a" }.map(\.sequence))
        #expect(try sequences(AuditQuery(actor: "Maria Keller")).count == 10)
        #expect(try sequences(AuditQuery(action: .exact("drift.detected"))).count == 10)
        #expect(try sequences(AuditQuery(action: .prefix("plan."))) == all.filter { $0.action.hasPrefix("plan.") }.map(\.sequence))
        #expect(try sequences(AuditQuery(action: .parse("change.*"))).count == 10)
        #expect(try sequences(AuditQuery(category: .approval)).count == 10)
        #expect(try sequences(AuditQuery(changeID: "chg-3")) == [14, 16])
        #expect(try sequences(AuditQuery(planID: "plan-13")) == [14, 16])
        #expect(try sequences(AuditQuery(changeOrPlanID: "plan-13")) == [14, 16])
        #expect(try sequences(AuditQuery(since: all[9].timestamp, until: all[12].timestamp)) == [10, 11, 12])
        #expect(try sequences(AuditQuery(sequences: 5...7)) == [5, 6, 7])
        #expect(try sequences(AuditQuery(limit: 3)) == [1, 2, 3])
        #expect(try sequences(AuditQuery(limit: 3, keepNewest: true)) == [38, 39, 40])
        #expect(try sequences(AuditQuery(site: "plant-b", action: .exact("drift.detected"), since: all[20].timestamp)) == all.filter {
            $0.site == "plant-b" && $0.action == "drift.detected" && $0.sequence >= 21
        }.map(\.sequence))
        let query = AuditQuery(site: "plant-a", category: .drift, since: all[10].timestamp)
        #expect(try store.records(matching: query) == all.filter(query.matches))
    }

    @Test func approvalsRejectionsAndOverridesRequireAReason() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path)
        var approval = Fixture.entry(3)
        approval.reason = "  "
        #expect(throws: AuditEntryError.self) { try store.append(approval) }
        let rejection = AuditEntry(actor: Fixture.manager, category: .plan, action: "change.rejected", changeID: "chg-1")
        #expect { try store.append(rejection) } throws: { error in
            (error as? AuditEntryError)?.field == "reason" && "\(error)".contains("change.rejected")
        }
        let override = AuditEntry(actor: Fixture.manager, category: .apply, action: "window.override", reason: "")
        #expect(throws: AuditEntryError.self) { try store.append(override) }
        // A failing entry in a batch stores nothing.
        #expect(throws: AuditEntryError.self) { try store.append(contentsOf: [Fixture.entry(0), rejection]) }
        #expect(try store.count() == 0)
        var withReason = rejection
        withReason.reason = "plan touches line 3 during production"
        #expect(try store.append(withReason).reason == "plan touches line 3 during production")
    }

    @Test func appendsAreDurableInWALMode() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path)
        let (journal, synchronous, busy) = try store.pool.write { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"), try Int.fetchOne(db, sql: "PRAGMA busy_timeout"))
        }
        #expect(journal == "wal")
        #expect(synchronous == 2)  // FULL
        #expect(busy == 10_000)
        #expect(try store.appliedMigrations() == AuditSchema.migrationNames)
    }

    @Test func timestampsNeverGoBackwardsWhenTheClockSteps() throws {
        let dir = try TemporaryDirectory()
        let clock = SteppingClock(step: 1)
        let store = try SQLiteStore(stateDirectory: dir.path, clock: clock)
        let first = try store.append(Fixture.entry(0))
        clock.set(first.timestamp.addingTimeInterval(-3600))
        let second = try store.append(Fixture.entry(1))
        #expect(second.timestamp == first.timestamp)
        #expect(second.details["clockSteppedBackTo"] == "2026-03-01T11:00:00.000Z")
        #expect(try store.verify(trust: .none).ok)
    }

    @Test func triggersRefuseUpdatesAndDeletes() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path)
        _ = try store.append(contentsOf: Fixture.entries(3))
        _ = try store.checkpoint(signingKey: AuditSigningKey())
        let raw = try Fixture.attacker(dir.databasePath)
        for sql in ["UPDATE audit_record SET reason = 'x' WHERE sequence = 1", "DELETE FROM audit_record WHERE sequence = 3",
                    "UPDATE audit_checkpoint SET sequence = 1", "DELETE FROM audit_checkpoint"] {
            #expect { try raw.write { try $0.execute(sql: sql) } } throws: { "\($0)".contains("append-only") }
        }
        #expect(try store.count() == 3)
    }

    @Test func emptyOptionalFieldsAreStoredAsAbsent() throws {
        let entry = AuditEntry(actor: .system, category: .system, action: "audit.initialized", site: "", reason: "")
        #expect(entry.site == nil && entry.reason == nil)
    }
}
