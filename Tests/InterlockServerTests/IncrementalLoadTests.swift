import Foundation
import InterlockGit
import InterlockModel
import InterlockServer
import Testing

/// The serve loop reads each new commit on top of the previous pass: the result must be what a cold read gives.
@Suite("Desired state read incrementally between passes")
struct IncrementalLoadTests {
    @Test func aNewCommitIsReadOnTopOfThePreviousPassWithTheSameResultAsAColdRead() throws {
        let fixture = try ServerFixture()
        let repo = fixture.base + "/repo"
        let first = try fixture.instance.loadDesiredState()

        let flow = repo + "/flows/energy-monitoring.yaml"
        let text = try String(contentsOfFile: flow, encoding: .utf8)
        try text.replacingOccurrences(of: "      interval: 5s", with: "      interval: 2s").write(toFile: flow, atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", "Sample the meters every 2 s"], in: repo)
        let second = try fixture.instance.loadDesiredState()
        #expect(second.commitID != first.commitID)

        let cold = DesiredState.load(from: try RepositorySource(repo).read(revision: "HEAD", stateDirectory: fixture.base + "/state").snapshot)
        #expect(cold.isValid)
        let runners = cold.state.sites.filter { $0.flows.contains("energy-monitoring") }
        #expect(!runners.isEmpty)
        for site in runners {
            let incremental = try #require(second.state.compile(siteNamed: site.name))
            #expect(incremental.site.fingerprint == cold.state.compile(site: site).site.fingerprint, "site \(site.name)")
            #expect(incremental.site.fingerprint != first.state.compile(site: site).site.fingerprint, "site \(site.name) runs the flow")
        }
    }

    @Test func aBrokenCommitAfterAGoodOneIsRefusedAndItsFixIsReadAgain() throws {
        let fixture = try ServerFixture()
        let repo = fixture.base + "/repo"
        _ = try fixture.instance.loadDesiredState()
        let flow = repo + "/flows/energy-monitoring.yaml"
        let good = try String(contentsOfFile: flow, encoding: .utf8)
        try (good + "\n  broken: [unclosed\n").write(toFile: flow, atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", "Broken YAML"], in: repo)
        #expect(throws: InterlockInstance.LoadError.self) { try fixture.instance.loadDesiredState() }

        try good.replacingOccurrences(of: "      interval: 5s", with: "      interval: 10s").write(toFile: flow, atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", "Fixed"], in: repo)
        let fixed = try fixture.instance.loadDesiredState()
        let compiled = try #require(fixed.state.compile(siteNamed: "plant-a"))
        #expect(compiled.isValid)
        let flowResource = try #require(compiled.site.resource(at: "flows/energy-monitoring"))
        #expect(String(decoding: flowResource.content, as: UTF8.self).contains("\"interval\":\"10s\""))
    }

    /// The repository stays open between passes: objects that `git gc` moves from loose files into a new pack
    /// (deleting the files), and a branch reset to an older commit, must be read as a fresh process reads them.
    @Test func theKeptRepositoryFollowsRepackingAndResets() throws {
        let fixture = try ServerFixture()
        let repo = fixture.base + "/repo"
        let first = try fixture.instance.loadDesiredState()
        let flow = repo + "/flows/energy-monitoring.yaml"
        let text = try String(contentsOfFile: flow, encoding: .utf8)
        for interval in ["2s", "3s"] {
            try text.replacingOccurrences(of: "      interval: 5s", with: "      interval: \(interval)").write(toFile: flow, atomically: true, encoding: .utf8)
            try ServerFixture.git(["commit", "-qam", "Sample every \(interval)"], in: repo)
            _ = try fixture.instance.loadDesiredState()
        }
        try ServerFixture.git(["gc", "-q", "--prune=now"], in: repo)
        try text.replacingOccurrences(of: "      interval: 5s", with: "      interval: 4s").write(toFile: flow, atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", "Sample every 4s"], in: repo)
        let afterRepack = try fixture.instance.loadDesiredState()
        let compiled = try #require(afterRepack.state.compile(siteNamed: "plant-a"))
        let resource = try #require(compiled.site.resource(at: "flows/energy-monitoring"))
        #expect(String(decoding: resource.content, as: UTF8.self).contains("\"interval\":\"4s\""))

        try ServerFixture.git(["reset", "-q", "--hard", try #require(first.commitID)], in: repo)
        try ServerFixture.git(["gc", "-q", "--prune=now"], in: repo)
        let reset = try fixture.instance.loadDesiredState()
        #expect(reset.commitID == first.commitID)
        let cold = DesiredState.load(from: try RepositorySource(repo).read(revision: "HEAD", stateDirectory: fixture.base + "/state").snapshot)
        for site in cold.state.sites {
            #expect(try #require(reset.state.compile(siteNamed: site.name)).site.fingerprint == cold.state.compile(site: site).site.fingerprint)
        }
    }
}
