import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel
import Testing

/// Planning from an outline, as `plan`, `status` and the reconcile loop do: the same plans as from the whole
/// state, and a site whose files cannot be read is invalid without stopping the others.
@Suite struct OutlinePlanningTests {
    @Test func sitesPlanFromAnOutlineAsFromTheWholeStateAndArriveInOrder() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        let outline = DesiredStateOutline(f.snapshot)
        var names: [String] = [], plans: [Plan] = []
        f.planning.plan(outline.sites, in: outline, reduce: { outcome -> (String, Plan?) in
            guard case .planned(_, _, let plan) = outcome else { return (outcome.site.name, nil) }
            return (outcome.site.name, plan)
        }, deliver: { result in
            names.append(result.0)
            if let plan = result.1 { plans.append(plan) }
        })
        #expect(names == ["plant-a", "plant-b"])
        #expect(plans.map(\.id) == [try f.plan("plant-a").plan.id, try f.plan("plant-b").plan.id])
        #expect(plans.first?.isEmpty == true, "plant A was deployed")
        let summaries = f.planning.summaries(outline.sites, in: outline.state)
        #expect(summaries.map(\.condition) == [.inSync, .changesPending])
        #expect(summaries[0].managedResources > 0)
        #expect(summaries.map { $0.plan?.id } == plans.map(\.id))
    }

    @Test func aSiteWhoseFilesCannotBeReadIsInvalidAndNamesTheFile() throws {
        let f = try EngineFixture()
        // An outline whose flow file was never loaded, with no repository to read it from.
        var snapshot = f.snapshot
        let path = "flows/predictive-maintenance.yaml"
        let file = try #require(snapshot.files[path])
        let blob = try #require(ObjectID(hex: String(repeating: "ab", count: 20)))
        snapshot.files[path] = Snapshot.File(unloaded: file.rawPath, blobID: file.blobID ?? blob, mode: file.mode)
        let outline = DesiredStateOutline(snapshot)
        #expect(outline.isValid, "the repository-wide checks need no definition's content")
        guard case .invalid(_, let diagnostics) = f.planning.plan(f.site("plant-a"), in: outline) else {
            Issue.record("plant-a planned without its flow")
            return
        }
        #expect(diagnostics.map(\.code) == ["repository-unreadable"])
        #expect(diagnostics.first?.message.contains(path) == true)
        #expect(diagnostics.first?.location.file == "sites/plant-a/site.yaml")
        #expect(SitePlanning.Summary(f.planning.plan(f.site("plant-b"), in: outline)).condition == .invalid)
    }
}
