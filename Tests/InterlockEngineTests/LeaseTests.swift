import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel
import InterlockStore
import InterlockTestSupport

/// A claim is a lease with a fencing token, in the store's time: only its token renews it, an expired one is taken
/// over by exactly one process, and the old holder's writes are refused from then on. On SQLite (one host) a dead
/// holder's change is taken over at once; on PostgreSQL (shared by several hosts) only an expired lease counts.
@Suite struct LeaseTests {
    /// A ready broker change at Plant A, inside its window.
    func readyChange(_ f: QueueFixture) throws -> ChangeRequest {
        try f.prepareBrokerChange()
        _ = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        try f.reconcile()
        return try #require(try f.store.changes(sites: ["plant-a"], statuses: [.ready], limit: nil).first)
    }

    /// Lets a lease of `f` run out: the store's clock (SQLite) and the database's (PostgreSQL) both move past it.
    func expire(_ f: QueueFixture) {
        f.clock.set(f.clock.now().addingTimeInterval(f.leaseDuration + 1))
        usleep(useconds_t((f.leaseDuration + 0.3) * 1_000_000))
    }

    @Test(arguments: StoreKind.allCases)
    func onlyTheTokenRenewsAndAnExpiredLeaseIsTakenOverOnceAndFencesTheOldHolder(store: StoreKind) throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store, leaseDuration: 1)
        let change = try readyChange(f)
        let holder = "plant-host-a:4242:boot-a:1"
        _ = try f.store.claim(changeID: change.id, owner: holder, emergency: false, events: [])
        let first = try #require(try f.store.lease(changeID: change.id))
        #expect(first.owner == holder)
        #expect(try f.store.renewLease(changeID: change.id, token: first.token))
        #expect(try !f.store.renewLease(changeID: change.id, token: first.token + 100), "another token renews nothing")
        #expect(try f.store.takeOver(changeID: change.id, owner: "b", token: first.token, ownerIsDead: false, events: []) == nil,
                "a lease that has not expired is not taken over")

        expire(f)
        let other = try f.anotherStore()
        let taken = try #require(try other.takeOver(changeID: change.id, owner: "replica-b", token: first.token, ownerIsDead: false, events: []))
        #expect(taken.token > first.token && taken.owner == "replica-b")
        #expect(try f.store.takeOver(changeID: change.id, owner: "replica-c", token: first.token, ownerIsDead: false, events: []) == nil,
                "of two takers, one wins")

        // The old holder comes back: nothing it writes about the change is accepted.
        let records = try f.store.count()
        #expect(try !f.store.renewLease(changeID: change.id, token: first.token))
        let stale = LeaseFence(changeID: change.id, token: first.token)
        #expect { try f.store.transition(changeID: change.id, from: [.applying], to: .applied, reason: nil, events: [], baseline: nil, fence: stale) }
            throws: { ($0 as? ChangeStoreError)?.code == .fenced }
        #expect { try f.store.saveReceipt(changeID: change.id, receipt: ApplyReceipt(site: "plant-a", planID: change.plan.id, applied: [], undo: [:]), fence: stale) }
            throws: { ($0 as? ChangeStoreError)?.code == .fenced }
        let late = AuditEvent(actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .apply, action: "apply.succeeded",
                              site: "plant-a", changeID: change.id, planID: change.plan.id)
        #expect { try f.store.record([late], fence: stale) } throws: { ($0 as? ChangeStoreError)?.code == .fenced }
        #expect(try f.store.count() == records, "no late record reached the log")
        #expect(try f.store.change(id: change.id)?.status == .applying)
        // The new holder's writes go through.
        let failed = try other.transition(changeID: change.id, from: [.applying], to: .failed, reason: "taken over", events: [], baseline: nil, fence: taken.fence)
        #expect(failed.status == .failed)
        #expect(try f.store.lease(changeID: change.id) == nil, "no lease once the change left applying")
    }

    @Test(arguments: StoreKind.allCases)
    func aDeadHoldersChangeIsTakenOverAtOnceOnlyOnAStoreOfOneHost(store: StoreKind) throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store, leaseDuration: 30)
        let change = try readyChange(f)
        _ = try f.store.claim(changeID: change.id, owner: "gone-host:999999:no-such-boot:1", emergency: false, events: [])
        let held = try #require(try f.store.lease(changeID: change.id))
        let taken = try f.store.takeOver(changeID: change.id, owner: "me", token: held.token, ownerIsDead: true, events: [])
        switch store {
        case .sqlite: #expect(taken != nil, "one host: a dead process is certainly gone")
        case .postgres: #expect(taken == nil, "shared: a process elsewhere may be alive; only the lease decides")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func recoveryTakesOverAnExpiredLeaseAndRecordsWhatIsThere(store: StoreKind) throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store, leaseDuration: 1)
        let change = try readyChange(f)
        // A holder on another machine, alive as far as anyone here can tell, that stopped renewing before writing.
        _ = try f.store.claim(changeID: change.id, owner: "plant-host-b:77:boot-b:5", emergency: false, events: [])
        let early = try f.executor.recoverInterrupted(f.engine.state)
        let notes: [String]
        if store == .postgres {
            #expect(early.isEmpty, "shared store: not before its lease expired")
            expire(f)
            notes = try f.executor.recoverInterrupted(f.engine.state)
        } else {
            notes = early  // one host: another boot id means the holder is gone
        }
        #expect(notes.count == 1, "\(notes)")
        let recovered = try #require(try f.store.change(id: change.id))
        #expect(recovered.status == .rolledBack, "nothing had been written: every resource holds its previous content")
        let recoveredRecord = try #require(try f.store.records(matching: AuditQuery(action: .exact("apply.recovered"))).last)
        #expect(recoveredRecord.reason?.contains(store == .postgres ? "stopped renewing its lease" : "plant-host-b:77") == true, "\(recoveredRecord.reason ?? "")")
    }
}
