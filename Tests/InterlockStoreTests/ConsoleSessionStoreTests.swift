import Foundation
import InterlockTestSupport
import Testing
@testable import InterlockStore

/// The console's sessions in the state database, the same on SQLite and PostgreSQL: what one replica stores, another
/// reads; an ended session is gone for all; and a new sign-in sweeps the expired ones.
@Suite("Console sessions in the state database (SQLite and PostgreSQL)", .serialized)
struct ConsoleSessionStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_772_366_400)

    func session(_ key: String, user: String = "mgr-plant-a", at date: Date) -> StoredConsoleSession {
        StoredConsoleSession(key: key, userID: user, credential: "cred-" + user, csrfToken: "csrf-" + key, createdAt: date, lastSeen: date)
    }

    @Test(arguments: StoreKind.allCases)
    func whatOneReplicaStoresAnotherReadsTouchesAndEnds(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let one = try #require(under.store as? any ConsoleSessionStore)
        let two = try #require(try under.another() as? any ConsoleSessionStore)
        try one.insertSession(session("k1", at: t0), idleBefore: .distantPast, startedBefore: .distantPast)
        let read = try #require(try two.session(key: "k1"))
        #expect(read == session("k1", at: t0))
        #expect(try two.session(key: "k2") == nil)

        let later = t0.addingTimeInterval(90.25)
        try two.touchSession(key: "k1", lastSeen: later)
        #expect(try one.session(key: "k1")?.lastSeen == later)
        try one.touchSession(key: "k1", lastSeen: t0.addingTimeInterval(10))
        #expect(try two.session(key: "k1")?.lastSeen == later, "a touch never moves the last request backwards")
        #expect(try one.session(key: "k1")?.createdAt == t0)

        try two.deleteSession(key: "k1")
        #expect(try one.session(key: "k1") == nil)
        try two.deleteSession(key: "k1")  // ending an ended session is not an error
        #expect(try under.store.count() == 0, "sessions are not audit records")
    }

    @Test(arguments: StoreKind.allCases)
    func aNewSignInSweepsExpiredSessionsAndKeysAreUnique(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let store = try #require(under.store as? any ConsoleSessionStore)
        try store.insertSession(session("old-idle", at: t0), idleBefore: .distantPast, startedBefore: .distantPast)
        var long = session("old-start", user: "viewer", at: t0.addingTimeInterval(-13 * 3600))
        long.lastSeen = t0
        try store.insertSession(long, idleBefore: .distantPast, startedBefore: .distantPast)
        try store.insertSession(session("fresh", at: t0.addingTimeInterval(1000)), idleBefore: .distantPast, startedBefore: .distantPast)

        // Signing in at t0 + 31 min, with a 30-minute idle limit and a 12-hour lifetime.
        let now = t0.addingTimeInterval(31 * 60)
        try store.insertSession(session("new", at: now), idleBefore: now.addingTimeInterval(-30 * 60), startedBefore: now.addingTimeInterval(-12 * 3600))
        #expect(try store.session(key: "old-idle") == nil, "idle for 31 minutes")
        #expect(try store.session(key: "old-start") == nil, "started 13 hours ago")
        #expect(try store.session(key: "fresh") != nil)
        #expect(try store.session(key: "new") != nil)

        // A key is unique: the same key twice is refused, not merged.
        try store.insertSession(session("dup", at: now), idleBefore: .distantPast, startedBefore: .distantPast)
        #expect(throws: AuditStoreError.self) {
            try store.insertSession(session("dup", user: "viewer", at: now), idleBefore: .distantPast, startedBefore: .distantPast)
        }
        #expect(try store.session(key: "dup")?.userID == "mgr-plant-a")
    }
}
