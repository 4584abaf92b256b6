import Foundation
import Testing

/// A commit that does not validate queues nothing, and does not make the queue unusable: changes queued from an
/// earlier valid commit are still listed, signed and applied, at the commit they were queued from.
@Suite(.serialized) struct InvalidHeadTests {
    typealias Workspace = CommandLineTests.Workspace

    @Test func aBrokenCommitLeavesEarlierChangesListableSignableAndApplicable() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        #expect(try w.deployDirectly("plant-a").status == 0)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "10.20.1.15", "10.20.1.16")
        try w.commit("New OPC UA server at Plant A")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: GateTrustTests.outsideWindows).status == 0)

        try w.replace(w.repo + "/sites/plant-a/site.yaml", "timezone: Europe/Berlin", "timezon: Europe/Berlin")
        try w.commit("A typo")
        let reconcile = try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: GateTrustTests.outsideWindows)
        #expect(reconcile.status == 1, "nothing is queued from a broken commit")

        let queue = try w.run(["queue", "--repo", w.repo], environment: CommandLineTests.insideWindow)
        #expect(queue.status == 0, "\(queue.stderr)")
        #expect(queue.stderr.contains("does not validate"))
        #expect(queue.stdout.contains("plant-a-2  waiting"), "\(queue.stdout)")
        let approve = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "new server in place", "--repo", w.repo])
        #expect(approve.status == 0, "\(approve.stdout)\(approve.stderr)")
        let apply = try w.runAs("ops", ["apply", "--change", "plant-a-2", "--hooks", "skip", "--repo", w.repo], environment: CommandLineTests.insideWindow)
        #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
        #expect(apply.stdout.contains("applied plant-a-2"))
        let flow = try String(contentsOfFile: w.targets + "/plant-a/flows/energy-monitoring.json", encoding: .utf8)
        #expect(flow.contains("10.20.1.16"), "the change of the valid commit is live")
        #expect(try w.auditActions().contains("validate.failed"))
    }
}
