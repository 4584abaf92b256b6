import Foundation
import InterlockModel
import Testing
@testable import InterlockEngine

/// End to end: Examples/drivers/mqtt-retained/driver.py through `CommandDriver` against a real Mosquitto
/// broker started on a free loopback port. Fails (does not skip) when Mosquitto is not installed.
@Suite struct MQTTRetainedDriverTests {
    typealias F = DriverFixtures

    @Test func observeApplyRollbackAndDriftAgainstARealBroker() throws {
        let broker: MosquittoBroker
        do {
            broker = try MosquittoBroker()
        } catch {
            Issue.record("\(error)")
            return
        }
        defer { broker.stop() }
        let state = try ScratchDirectory("interlock-mqtt-state")
        #expect(FileManager.default.fileExists(atPath: F.examples.appendingPathComponent("drivers/mqtt-retained/driver.py").path))
        let driver = F.driver(
            ["python3", "drivers/mqtt-retained/driver.py"], timeout: 30,
            environment: ["MQTT_HOST": "127.0.0.1", "MQTT_PORT": "\(broker.port)", "INTERLOCK_DRIVER_STATE": state.path],
            in: F.examples.path
        )

        let config1 = F.file("flows/dispatcher.json", #"{"interval":"5s","nodes":["meter","alerts"]}"#)
        let readme = F.file("README.txt", "first line\nsecond line\n")
        let flow = F.flow("energy-monitoring", #"{"bricks":[{"name":"meter-reader"}]}"#)

        // An empty site.
        let empty = try driver.observe(desired: [config1, readme, flow])
        #expect(empty.resources.isEmpty)
        #expect(empty.drift.isEmpty)

        // First deploy.
        let plan1 = F.plan([F.create(config1), F.create(readme), F.create(flow)], commit: "1111111")
        let receipt1 = try driver.apply(plan1)
        #expect(receipt1.applied == [config1.path, readme.path, flow.path])
        let deployed = try driver.observe(desired: [config1, readme, flow])
        #expect(Set(deployed.resources.keys) == [config1.path, readme.path, flow.path])
        #expect(deployed.resources[readme.path]?.content == readme.content)
        #expect(deployed.resources[readme.path]?.contentHash == readme.contentHash)
        #expect(deployed.resources.values.allSatisfy { $0.managed })
        #expect(deployed.drift.isEmpty)

        // Update one, delete one, create one.
        let config2 = F.file("flows/dispatcher.json", #"{"interval":"1s","nodes":["meter","alerts"]}"#)
        let extra = F.file("extra.bin", "binary\u{0}payload\n")
        let plan2 = F.plan([F.update(config2, from: config1), F.create(extra), F.delete(flow)], commit: "2222222")
        let receipt2 = try driver.apply(plan2)
        #expect(receipt2.applied == [config2.path, extra.path, flow.path])
        let updated = try driver.observe(desired: [config2, readme, extra])
        #expect(Set(updated.resources.keys) == [config2.path, readme.path, extra.path])
        #expect(updated.resources[config2.path]?.contentHash == config2.contentHash)
        #expect(updated.resources[extra.path]?.content == extra.content)
        #expect(updated.drift.isEmpty)

        // A plan made against an older live state is refused before anything changes.
        let stale = F.plan([F.update(config2, from: config1)], commit: "3333333")
        let refusal = F.driverError { _ = try driver.apply(stale) }
        #expect(refusal?.code == .refused)
        #expect(refusal?.message.contains("\(config1.path) changed since the plan was made") == true, "\(String(describing: refusal))")

        // Rollback restores what plan 1 left.
        try driver.rollback(receipt2)
        let restored = try driver.observe(desired: [config1, readme, flow])
        #expect(Set(restored.resources.keys) == [config1.path, readme.path, flow.path])
        #expect(restored.resources[config1.path]?.contentHash == config1.contentHash)
        #expect(restored.resources[flow.path]?.contentHash == flow.contentHash)
        #expect(restored.drift.isEmpty)

        // Someone changes a retained message by hand and clears another: drift, attributed to plan 1.
        try broker.publishRetained("interlock/plant-a/\(config1.path)", #"{"interval":"10s"}"#)
        try broker.publishRetained("interlock/plant-a/\(readme.path)", nil)
        try broker.publishRetained("interlock/plant-a/files/unmanaged.txt", "left by someone else")
        let drifted = try driver.observe(desired: [config1, readme, flow])
        #expect(drifted.drift.count == 2)
        let modified = try #require(drifted.drift.first { $0.path == config1.path })
        #expect(modified.kind == .modified)
        #expect(modified.expectedHash == config1.contentHash)
        #expect(modified.actualHash == Resource.hash(Data(#"{"interval":"10s"}"#.utf8)))
        #expect(modified.appliedByPlan == plan1.id)
        #expect(modified.appliedCommit == "1111111")
        let vanished = try #require(drifted.drift.first { $0.path == readme.path })
        #expect(vanished.kind == .vanished)
        #expect(vanished.actualHash == nil)
        #expect(drifted.resources["files/unmanaged.txt"]?.managed == false)

        // With the broker gone the site is unreachable, and the error says where it looked.
        broker.stop()
        let down = F.driverError { _ = try driver.observe(desired: []) }
        #expect(down?.code == .unreachable)
        #expect(down?.message.contains("127.0.0.1:\(broker.port)") == true, "\(String(describing: down))")
    }
}
