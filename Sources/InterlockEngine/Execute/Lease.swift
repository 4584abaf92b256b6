import Foundation
import InterlockModel

/// The store as a lease holder writes to it: transitions, receipts and records of the leased change carry the fence,
/// so they are refused once another process has taken the change over. Everything else passes through.
struct FencedStore: ChangeStore {
    let base: any ChangeStore
    let fence: LeaseFence

    func record(_ events: [AuditEvent]) throws { try base.record(events, fence: fenceIfLeased(events.first?.changeID ?? fence.changeID)) }
    func enqueue(_ change: NewChange, events: [AuditEvent]) throws -> EnqueueResult { try base.enqueue(change, events: events) }
    func change(id: String) throws -> ChangeRequest? { try base.change(id: id) }
    func changes(sites: [String], statuses: Set<ChangeStatus>, limit: Int?) throws -> [ChangeRequest] {
        try base.changes(sites: sites, statuses: statuses, limit: limit)
    }
    func approve(changeID: String, approval: Approval, events: [AuditEvent]) throws -> ChangeRequest {
        try base.approve(changeID: changeID, approval: approval, events: events)
    }
    func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent]) throws -> ChangeRequest {
        try base.transition(changeID: changeID, from: from, to: to, reason: reason, events: events, baseline: nil, fence: fenceIfLeased(changeID))
    }
    func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?) throws -> ChangeRequest {
        try base.transition(changeID: changeID, from: from, to: to, reason: reason, events: events, baseline: baseline, fence: fenceIfLeased(changeID))
    }
    func baseline(site: String) throws -> SiteBaseline? { try base.baseline(site: site) }
    func claim(changeID: String, owner: String, emergency: Bool, events: [AuditEvent]) throws -> ChangeRequest {
        try base.claim(changeID: changeID, owner: owner, emergency: emergency, events: events)
    }
    func saveReceipt(changeID: String, receipt: ApplyReceipt) throws {
        try base.saveReceipt(changeID: changeID, receipt: receipt, fence: fenceIfLeased(changeID))
    }
    func receipt(changeID: String) throws -> ApplyReceipt? { try base.receipt(changeID: changeID) }
    func owner(changeID: String) throws -> String? { try base.owner(changeID: changeID) }
    var leaseDuration: TimeInterval { base.leaseDuration }
    var isShared: Bool { base.isShared }
    func lease(changeID: String) throws -> ChangeLease? { try base.lease(changeID: changeID) }
    func renewLease(changeID: String, token: Int64) throws -> Bool { try base.renewLease(changeID: changeID, token: token) }
    func takeOver(changeID: String, owner: String, token: Int64?, ownerIsDead: Bool, events: [AuditEvent]) throws -> ChangeLease? {
        try base.takeOver(changeID: changeID, owner: owner, token: token, ownerIsDead: ownerIsDead, events: events)
    }
    func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?, fence: LeaseFence?) throws -> ChangeRequest {
        try base.transition(changeID: changeID, from: from, to: to, reason: reason, events: events, baseline: baseline, fence: fence)
    }
    func saveReceipt(changeID: String, receipt: ApplyReceipt, fence: LeaseFence?) throws {
        try base.saveReceipt(changeID: changeID, receipt: receipt, fence: fence)
    }
    func record(_ events: [AuditEvent], fence: LeaseFence?) throws { try base.record(events, fence: fence) }

    /// The fence, for writes about the leased change.
    private func fenceIfLeased(_ changeID: String) -> LeaseFence? { changeID == fence.changeID ? fence : nil }
}

/// Renews a lease every third of its duration on a thread of its own while the holder works, so a busy applier keeps
/// it and a paused or partitioned one loses it. Once a renewal is refused the lease is lost for good.
final class LeaseHeartbeat: @unchecked Sendable {
    private let store: any ChangeStore
    private let lease: ChangeLease
    private let lock = NSCondition()
    private var stopped = false
    private var lost = false

    init(store: any ChangeStore, lease: ChangeLease) {
        self.store = store
        self.lease = lease
        let interval = max(0.05, store.leaseDuration / 3)
        let thread = Thread { [self] in
            while true {
                lock.lock()
                if !stopped { _ = lock.wait(until: Date().addingTimeInterval(interval)) }
                let done = stopped
                lock.unlock()
                if done { return }
                let renewed = (try? store.renewLease(changeID: lease.changeID, token: lease.token)) ?? true
                if !renewed {
                    lock.lock()
                    lost = true
                    stopped = true
                    lock.unlock()
                    return
                }
            }
        }
        thread.name = "lease \(lease.changeID)"
        thread.start()
    }

    /// Whether a renewal was refused (another process holds the change now).
    var isLost: Bool {
        lock.lock()
        defer { lock.unlock() }
        return lost
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.signal()
        lock.unlock()
    }
}
