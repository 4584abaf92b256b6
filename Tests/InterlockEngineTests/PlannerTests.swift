import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel

/// Plans: semantic detail, ordering and identity.
@Suite struct PlannerTests {
    @Test func flowChangeShowsExactlyTheBrickChange() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("flows/energy-monitoring.yaml", replacing: "unit_id: 3\n      interval: 5s", with: "unit_id: 3\n      interval: 1s")
        let (_, _, plan) = try f.plan("plant-a")
        #expect(plan.operations.map(\.path) == ["flows/energy-monitoring"])
        #expect(plan.operations[0].changes == ["brick meter-line-3 config.interval 5s → 1s"])
    }

    @Test func bricksAndConnectionsAddedAndRemoved() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("flows/energy-monitoring.yaml", replacing: "  - {from: threshold-alerts.alarm, to: alert-mail}", with: "  - {from: threshold-alerts.clear, to: alert-mail}")
        try f.edit("flows/energy-monitoring.yaml", replacing: "  - {from: meter-line-4, to: aggregate}\n", with: "")
        try f.edit("flows/energy-monitoring.yaml", replacing: "  - id: meter-line-4\n", with: "  - id: meter-line-5\n")
        try f.edit("flows/energy-monitoring.yaml", replacing: "connections:\n", with: "connections:\n  - {from: meter-line-5, to: aggregate}\n")
        let changes = try #require(try f.plan("plant-a").plan.operations.first { $0.path == "flows/energy-monitoring" }).changes
        #expect(changes.contains("brick meter-line-4 removed (modbus-tcp-reader 2.3.1)"))
        #expect(changes.contains("brick meter-line-5 added (modbus-tcp-reader 2.3.1)"))
        #expect(changes.contains("connection threshold-alerts.clear → alert-mail.in added"))
        #expect(changes.contains("connection threshold-alerts.alarm → alert-mail.in removed"))
        #expect(changes.contains("connection meter-line-5.out → aggregate.in added"))
    }

    @Test func layoutAndKeyOrderAreNotChanges() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("flows/energy-monitoring.yaml", replacing: "layout: {x: 80, y: 60}", with: "layout: {x: 400, y: 60}")
        try f.edit("flows/energy-monitoring.yaml", replacing: "      port: 502\n      unit_id: 1\n", with: "      unit_id: 1\n      port: 502\n")
        #expect(try f.plan("plant-a").plan.isEmpty)
    }

    @Test func planIDIsStableAndChangesWithAnyInput() throws {
        let f = try EngineFixture()
        let first = try f.plan("plant-a").plan
        #expect(try f.plan("plant-a").plan.id == first.id, "same inputs, same id")
        #expect(Plan.id(site: first.site, commit: first.commit, liveFingerprint: first.liveFingerprint, operations: first.operations) == first.id)
        #expect(Plan.id(site: first.site, commit: "0123", liveFingerprint: first.liveFingerprint, operations: first.operations) != first.id)
        #expect(Plan.id(site: "plant-b", commit: first.commit, liveFingerprint: first.liveFingerprint, operations: first.operations) != first.id)

        try f.writeLive("plant-a", "mosquitto/acl", "something already there\n")
        let liveChanged = try f.plan("plant-a").plan
        #expect(liveChanged.id != first.id, "a change in the live state changes the id")

        try f.edit("sites/plant-a/site.yaml", replacing: "10.20.1.15", with: "10.20.1.16")
        #expect(try f.plan("plant-a").plan.id != liveChanged.id, "a change in the desired state changes the id")
    }

    @Test func planIDIsPinnedForFixedInputs() {
        let op = Operation(action: .create, kind: .file, path: "files/a", policyPath: "components/x", beforeHash: nil,
                           afterHash: Resource.hash(Data("a".utf8)), afterMode: 0o644, content: Data("a".utf8))
        let id = Plan.id(site: "plant-a", commit: "c0ffee", liveFingerprint: LiveState.empty.fingerprint, operations: [op])
        #expect(id == Plan.id(site: "plant-a", commit: "c0ffee", liveFingerprint: LiveState.empty.fingerprint, operations: [op]))
        #expect(id.hasPrefix("sha256:") && id.count == 71)
    }

    @Test func structuredDiffNamesPathsOldAndNew() {
        let old = Value.object(["a": .int(1), "b": .object(["c": .string("x")]), "gone": .bool(true)])
        let new = Value.object(["a": .int(2), "b": .object(["c": .string("y"), "d": .null]), "list": .array([])])
        #expect(StructuredDiff.changes(from: old, to: new).map(\.description) == [
            "a 1 → 2", "b.c x → y", "b.d added = null", "gone removed (was true)", "list added = []",
        ])
    }
}
