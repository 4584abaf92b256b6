import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel
import InterlockStore
import InterlockTestSupport

/// `interlock store copy` moves the change queue with the log: changes, approvals, receipts and what was last
/// applied at each site read back the same from PostgreSQL, and again from SQLite after copying back.
@Suite struct StoreCopyQueueTests {
    /// Everything the engine reads of the queue, in a comparable form.
    func queueState(_ store: any StateStore) throws -> [String] {
        let changes = try store.changes(sites: [], statuses: [], limit: nil)
        var lines = changes.map { "\($0.id) \($0.status.rawValue) \($0.plan.id) \($0.approvers) \($0.statusReason ?? "-") \($0.emergency)" }
        for change in changes {
            lines.append("receipt \(change.id): \(String(describing: try store.receipt(changeID: change.id)))")
            lines.append("owner \(change.id): \(try store.owner(changeID: change.id) ?? "-")")
        }
        for site in ["plant-a", "plant-b"] {
            let baseline = try store.baseline(site: site)
            lines.append("baseline \(site): \(baseline.map { "\($0.changeID) \($0.commit ?? "-") \($0.files.siteFile.count) \($0.files.configFile?.count ?? -1)" } ?? "none")")
        }
        return lines
    }

    @Test func theQueueMovesToPostgreSQLAndBackUnchanged() throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow)
        try f.prepareBrokerChange()
        _ = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        try f.reconcile()
        _ = try f.executor.applyReady(f.engine.state, sites: ["plant-a"])
        try f.engine.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1200", with: "max_connections: 1300")
        try f.reconcile()
        _ = try f.approve(try #require(try f.active("plant-a")), as: "deputy-plant-a")
        let before = try queueState(f.store)
        #expect(try f.store.baseline(site: "plant-a") != nil, "an applied change left a baseline to copy")
        #expect(before.contains { $0.contains("deputy-plant-a") }, "an approval to copy")

        let postgres = try AuditStores.open(try DatabaseURL.parse(try PostgresCluster.shared.freshDatabaseURL()))
        let report = try AuditStoreCopy.copy(from: f.store, to: postgres)
        #expect(report.queue["change_request"] == before.filter { !$0.hasPrefix("receipt") && !$0.hasPrefix("owner") && !$0.hasPrefix("baseline") }.count)
        #expect(try queueState(postgres) == before)
        // The engine carries on from the copy: the approved change is still waiting for its window and its rules.
        let next = try #require(try postgres.changes(sites: ["plant-a"], statuses: ChangeStatus.active, limit: nil).first)
        #expect(next.approvers == ["deputy-plant-a"])

        let dir = NSTemporaryDirectory() + "interlock-copy-back-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let back = try AuditStores.open(.sqlite(path: dir + "/interlock.db"))
        let again = try AuditStoreCopy.copy(from: postgres, to: back)
        #expect(again.headHash == report.headHash)
        #expect(try queueState(back) == before)
        // A target that holds a queue (or a log) is refused before anything is written.
        #expect { try AuditStoreCopy.copy(from: f.store, to: back) } throws: { "\($0)".contains("already holds") }
    }
}
