import Foundation
import Testing

/// A signature stands for the work it was given on. A commit elsewhere in the repository gives Plant A's waiting
/// change a new plan id with the same operations and live state: the signature carries over, and the record says from
/// where. A commit that changes Plant A's operations, or one written by the person who signed (authors may not approve
/// at Plant A), lets it lapse — and the superseded change names its successor and whose signature lapsed.
@Suite(.serialized) struct ApprovalCarryTests {
    typealias Workspace = CommandLineTests.Workspace

    static func queueJSON(_ w: Workspace) throws -> [[String: Any]] {
        let out = try w.run("queue", "--repo", w.repo, "--json").stdout
        let object = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any]
        return object?["changes"] as? [[String: Any]] ?? []
    }

    static func change(_ w: Workspace, site: String) throws -> [String: Any]? {
        try queueJSON(w).first { $0["site"] as? String == site }
    }

    static func approvers(_ change: [String: Any]?) -> [String] {
        ((change?["approvals"] as? [[String: Any]]) ?? []).compactMap { $0["approver"] as? String }
    }

    static func superseded(_ w: Workspace, _ id: String) throws -> [String: Any]? {
        try ReplicaFaultTests.records(w, change: id).last { $0["action"] as? String == "change.superseded" }
    }

    @Test func anUnrelatedCommitKeepsTheSignatureAndOneThatChangesTheWorkOrIsTheSignersOwnDoesNot() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        // Plant A's rules become trusted with its first deployment; then a change of its own waits for a signature.
        #expect(try w.deployDirectly("plant-a").status == 0)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4840", "opcua_port: 4841")
        try w.commit("Plant A's OPC UA server moves to port 4841")
        #expect(try w.run("reconcile", "--repo", w.repo).status == 0)
        // Plant B was never deployed: nothing is trusted there yet, so its signature never carries.
        #expect(try w.runAs("mgr-plant-b", ["approve", "plant-b-1", "--reason", "first deployment", "--repo", w.repo]).status == 0)
        let first = try #require(try Self.change(w, site: "plant-a"))
        let firstID = try #require(first["id"] as? String)
        #expect(try w.runAs("mgr-plant-a", ["approve", firstID, "--reason", "reviewed the broker and the flows", "--repo", w.repo]).status == 0)

        // A commit that changes only Plant B: Plant A's change gets the new commit, and keeps Anna's signature.
        try w.replace(w.repo + "/sites/plant-b/site.yaml", "  lines: 3\n", "  lines: 4\n")
        try w.commit("Plant B runs a fourth line")
        #expect(try w.run("reconcile", "--repo", w.repo).status == 0)
        let second = try #require(try Self.change(w, site: "plant-a"))
        let secondID = try #require(second["id"] as? String)
        #expect(secondID != firstID, "a new commit, a new plan id: \(second)")
        #expect(Self.approvers(second) == ["mgr-plant-a"], "the signature carried over: \(second)")
        let carriedFrom = ((second["approvals"] as? [[String: Any]])?.first?["carriedFrom"] as? [String: Any])?["change"] as? String
        #expect(carriedFrom == firstID)
        let carried = try #require(try ReplicaFaultTests.records(w, change: secondID).first { $0["action"] as? String == "change.approval.carried" })
        let details = carried["details"] as? [String: Any] ?? [:]
        #expect(details["approver"] as? String == "mgr-plant-a" && details["from"] as? String == firstID, "\(carried)")
        let firstSuperseded = try #require(try Self.superseded(w, firstID))
        #expect((firstSuperseded["reason"] as? String)?.contains("1 approval(s) carry over to \(secondID)") == true, "\(firstSuperseded)")
        let queue = try w.run("queue", "--repo", w.repo).stdout
        #expect(queue.contains("signed on \(firstID), carried over"), "\(queue)")
        let plantB = try #require(try Self.change(w, site: "plant-b"))
        #expect(plantB["id"] as? String != "plant-b-1" && Self.approvers(plantB).isEmpty, "before a first deployment nothing carries: \(plantB)")
        #expect((try Self.superseded(w, "plant-b-1")?["reason"] as? String)?.contains("the approval(s) of Maria Lopez lapse") == true)

        // The same kind of commit, but written by Anna herself: Plant A does not let authors approve, so it lapses.
        try w.replace(w.repo + "/sites/plant-b/site.yaml", "  lines: 4\n", "  lines: 5\n")
        try w.git("add", "-A")
        try w.git("commit", "-q", "--author=Anna Berger <anna.berger@example.com>", "-m", "Plant B runs a fifth line")
        #expect(try w.run("reconcile", "--repo", w.repo).status == 0)
        let third = try #require(try Self.change(w, site: "plant-a"))
        let thirdID = try #require(third["id"] as? String)
        #expect(thirdID != secondID && Self.approvers(third).isEmpty, "Anna's signature lapsed: \(third)")
        let secondSuperseded = try #require(try Self.superseded(w, secondID))
        let secondDetails = secondSuperseded["details"] as? [String: Any] ?? [:]
        #expect(secondDetails["lapsed"] as? String == "mgr-plant-a", "\(secondSuperseded)")
        #expect((secondDetails["lapsedWhy"] as? String)?.contains("wrote commit") == true, "\(secondSuperseded)")

        // Jonas signs; then a commit that changes Plant A's own values: other operations, the signature lapses.
        #expect(try w.runAs("deputy-plant-a", ["approve", thirdID, "--reason", "reviewed", "--repo", w.repo]).status == 0)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4841", "opcua_port: 4842")
        try w.commit("Plant A's OPC UA server moves to port 4842")
        #expect(try w.run("reconcile", "--repo", w.repo).status == 0)
        let fourth = try #require(try Self.change(w, site: "plant-a"))
        let fourthID = try #require(fourth["id"] as? String)
        #expect(fourthID != thirdID && Self.approvers(fourth).isEmpty, "\(fourth)")
        let thirdSuperseded = try #require(try Self.superseded(w, thirdID))
        #expect((thirdSuperseded["reason"] as? String)?.contains("the approval(s) of Jonas Keller lapse") == true, "\(thirdSuperseded)")
        #expect((thirdSuperseded["details"] as? [String: Any])?["supersededBy"] as? String == fourthID)
        #expect(try !ReplicaFaultTests.records(w, change: fourthID).contains { $0["action"] as? String == "change.approval.carried" })
        #expect(try w.run("audit", "verify").status == 0)
    }
}
