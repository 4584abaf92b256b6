import Foundation
import GRDB
import Testing
@testable import InterlockStore

@Suite("Schema migrations")
struct MigrationTests {
    @Test func aDatabaseWithOnlyTheFirstMigrationIsMigratedWithItsDataIntact() throws {
        let dir = try TemporaryDirectory()
        // A file as the first release wrote it: v1-audit only (no checkpoint table), with records.
        let written: [AuditRecord]
        do {
            let old = try SQLiteStore(path: dir.databasePath, clock: SteppingClock(), migrateUpTo: "v1-audit")
            #expect(try old.appliedMigrations() == ["v1-audit"])
            let tables = try old.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'audit_%'") }
            #expect(tables == ["audit_record"])
            written = try old.append(contentsOf: Fixture.entries(25))
        }
        let store = try SQLiteStore(path: dir.databasePath, clock: SteppingClock(start: Date(timeIntervalSince1970: 1_800_000_000)))
        #expect(try store.appliedMigrations() == AuditSchema.migrationNames)
        #expect(try store.records(matching: .all) == written)
        let key = AuditSigningKey()
        let next = try store.append(Fixture.entry(25))
        #expect(next.sequence == 26 && next.previousHash == written.last!.hash)
        let checkpoint = try store.checkpoint(signingKey: key)
        #expect(checkpoint.sequence == 26)
        let verification = try store.verify(trust: .external(key.publicKey))
        #expect(verification.ok)
        #expect(verification.anchored)
        #expect(verification.recordCount == 26)
    }

    @Test func reopeningALatestDatabaseChangesNothing() throws {
        let dir = try TemporaryDirectory()
        let written = try SQLiteStore(stateDirectory: dir.path).append(contentsOf: Fixture.entries(3))
        let again = try SQLiteStore(stateDirectory: dir.path)
        #expect(try again.records(matching: .all) == written)
        #expect(try again.appliedMigrations() == AuditSchema.migrationNames)
    }
}
