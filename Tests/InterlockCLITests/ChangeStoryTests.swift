import Foundation
import Testing

/// A change carrying several commits says, for each operation, which commit brought it, and who owns the component it
/// touches and which lines it affects — in `queue --json`, the API's shape, and the plan text.
@Suite(.serialized) struct ChangeStoryTests {
    typealias Workspace = CommandLineTests.Workspace

    @Test func everyOperationNamesTheCommitThatBroughtItAndTheComponentsOwner() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        #expect(try w.deployDirectly("plant-a").status == 0)
        // Three commits after the last deployment: a flow change, a broker change, and one that touches neither.
        try w.replace(w.repo + "/flows/energy-monitoring.yaml", "unit_id: 3\n      interval: 5s", "unit_id: 3\n      interval: 1s")
        try w.commit("Line 3 meter every second")
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 1200")
        try w.commit("Broker takes 1200 connections")
        try w.replace(w.repo + "/sites/plant-b/site.yaml", "  lines: 3\n", "  lines: 4\n")
        try w.commit("Plant B runs a fourth line")
        #expect(try w.run("reconcile", "--repo", w.repo).status == 0)

        let change = try #require(try ApprovalCarryTests.change(w, site: "plant-a"))
        let commits = try #require(change["commits"] as? [[String: Any]])
        let ids = Dictionary(uniqueKeysWithValues: commits.compactMap { c in (c["summary"] as? String).map { ($0, c["id"] as? String ?? "") } })
        #expect(commits.compactMap { $0["summary"] as? String } == ["Plant B runs a fourth line", "Broker takes 1200 connections", "Line 3 meter every second"])
        let operations = try #require((change["plan"] as? [String: Any])?["operations"] as? [[String: Any]])
        func operation(_ path: String) throws -> [String: Any] { try #require(operations.first { $0["path"] as? String == path }, "\(operations.map { $0["path"] ?? "" })") }

        let flow = try operation("flows/energy-monitoring")
        #expect(flow["introducedBy"] as? String == ids["Line 3 meter every second"])
        #expect((flow["sources"] as? [String])?.contains("flows/energy-monitoring.yaml") == true)
        // Only the brick that changed counts for what the flow change affects.
        let flowAffects = (flow["about"] as? [String: Any])?["affects"] as? [String: Any]
        #expect(flowAffects?["lines"] as? [String] == ["Line 3"], "\(flow)")
        #expect(flowAffects?["assets"] as? [String] == ["Feeder meter L3"], "\(flow)")

        let broker = try operation("components/mqtt-broker")
        #expect(broker["introducedBy"] as? String == ids["Broker takes 1200 connections"])
        let about = try #require(broker["about"] as? [String: Any])
        #expect(about["product"] as? String == "Eclipse Foundation Mosquitto 2.0.18")
        let owner = try #require(about["owner"] as? [String: Any])
        #expect(owner["name"] as? String == "OT infrastructure team" && owner["kind"] as? String == "in-house", "\(owner)")
        // A file the broker renders follows its component: same commit, same owner.
        let conf = try #require(operations.first { ($0["path"] as? String)?.hasPrefix("files/mosquitto/") == true && $0["introducedBy"] != nil && !($0["introducedBy"] is NSNull) }, "\(operations)")
        #expect(conf["introducedBy"] as? String == ids["Broker takes 1200 connections"])
        #expect(((conf["about"] as? [String: Any])?["owner"] as? [String: Any])?["name"] as? String == "OT infrastructure team")
        // The unrelated commit brought no operation.
        #expect(!operations.contains { $0["introducedBy"] as? String == ids["Plant B runs a fourth line"] })

        // The plan text names owner and what is affected.
        let plan = try w.run("plan", "--site", "plant-a", "--repo", w.repo).stdout
        #expect(plan.contains("owner: OT infrastructure team (in-house)"), "\(plan)")
        #expect(plan.contains("affects: line Line 3 · asset Feeder meter L3"), "\(plan)")
    }
}
