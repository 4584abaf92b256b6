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

/// What an operation says about its component, owner and the floor, kept with the stored plan but outside its id.
@Suite struct OperationAboutTests {
    @Test func aFileFollowsItsComponentAndAFlowCountsOnlyTheBricksItTouches() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("components/mqtt-broker/mosquitto.conf", replacing: "max_connections ${config.max_connections}", with: "max_connections 900")
        try f.edit("flows/energy-monitoring.yaml", replacing: "unit_id: 3\n      interval: 5s", with: "unit_id: 3\n      interval: 1s")
        let plan = try f.plan("plant-a").plan
        let conf = try #require(plan.operations.first { $0.path == "files/mosquitto/mosquitto.conf" })
        #expect(conf.about?.component == "mqtt-broker")
        #expect(conf.about?.product == "Eclipse Foundation Mosquitto 2.0.18")
        #expect(conf.about?.owner?.name == "OT infrastructure team")
        #expect(conf.sources.contains("components/mqtt-broker/mosquitto.conf"))
        #expect(conf.about?.lines(kind: .file) == ["component mqtt-broker — Eclipse Foundation Mosquitto 2.0.18 · owner: OT infrastructure team"])
        let flow = try #require(plan.operations.first { $0.path == "flows/energy-monitoring" })
        #expect(flow.about?.affects == Affects(lines: ["Line 3"], assets: ["Feeder meter L3"]))
        #expect(flow.about?.description?.hasPrefix("Reads the line power meters") == true)
    }

    @Test func aDeletedFlowSaysWhatItAffectedFromItsLiveContent() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("sites/plant-a/site.yaml", replacing: "flows: [energy-monitoring, predictive-maintenance]", with: "flows: [energy-monitoring]")
        let plan = try f.plan("plant-a").plan
        let removed = try #require(plan.operations.first { $0.path == "flows/predictive-maintenance" })
        #expect(removed.action == .delete)
        #expect(removed.about?.affects.lines == ["Line 1", "Line 2"])
        #expect(removed.about?.affects.areas == ["Machining cells"])
    }

    @Test func anOwnersNewPhoneNumberRestartsNothingButANewSettingDoes() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("components/mqtt-broker.yaml", replacing: "+49 89 4711 300", with: "+49 89 4711 301")
        let plan = try f.plan("plant-a").plan
        #expect(plan.operations.map(\.path) == ["components/mqtt-broker"])
        #expect(plan.operations[0].describesOnly)
        #expect(Hooks.commands(for: plan, desired: try f.plan("plant-a").desired).isEmpty, "no reload or health command for a new phone number")
        #expect(try Plan(stored: plan.stored).operations[0].describesOnly)
        // The agent gets the plan without what only people read; its id is the same.
        let forAgent = try Plan(stored: plan.storedForAgent)
        #expect(forAgent.id == plan.id && forAgent.operations[0].about == nil && forAgent.operations[0].sources.isEmpty)

        try f.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1200")
        let real = try f.plan("plant-a")
        let component = try #require(real.plan.operations.first { $0.path == "components/mqtt-broker" })
        #expect(!component.describesOnly)
        #expect(Hooks.commands(for: real.plan, desired: real.desired).contains { $0.component == "mqtt-broker" && $0.hook == "reload" })
    }

    @Test func theStoredPlanKeepsItAndItIsNotPartOfTheID() throws {
        let f = try EngineFixture()
        var plan = try f.plan("plant-a").plan
        plan.operations[0].introducedBy = "0123456789abcdef0123456789abcdef01234567"
        let read = try Plan(stored: plan.stored)
        #expect(read.operations[0].about == plan.operations[0].about)
        #expect(read.operations[0].sources == plan.operations[0].sources)
        #expect(read.operations[0].introducedBy == plan.operations[0].introducedBy)
        var other = plan.operations
        other[0].about = nil
        other[0].introducedBy = nil
        #expect(Plan.id(site: plan.site, commit: plan.commit, liveFingerprint: plan.liveFingerprint, operations: other) == plan.id)
        // A plan stored before these fields existed still reads.
        var old = plan.stored.objectValue!
        old["operations"] = .array(old["operations"]!.arrayValue!.map { op in
            var o = op.objectValue!
            o["about"] = nil; o["sources"] = nil; o["introducedBy"] = nil
            return .object(o)
        })
        let legacy = try Plan(stored: .object(old))
        #expect(legacy.id == plan.id && legacy.operations[0].about == nil && legacy.operations[0].sources.isEmpty)
    }
}
