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
        let first = try fixture.instance.loadDesiredState()

        try fixture.commit(try String(contentsOfFile: fixture.flowFile, encoding: .utf8), interval: "2s", message: "Sample the meters every 2 s")
        let second = try fixture.instance.loadDesiredState()
        #expect(second.commitID != first.commitID)

        let cold = try fixture.coldLoad()
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
        _ = try fixture.instance.loadDesiredState()
        let good = try String(contentsOfFile: fixture.flowFile, encoding: .utf8)
        try (good + "\n  broken: [unclosed\n").write(toFile: fixture.flowFile, atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", "Broken YAML"], in: fixture.repo)
        #expect(throws: InterlockInstance.LoadError.self) { try fixture.instance.loadDesiredState() }

        try fixture.commit(good, interval: "10s", message: "Fixed")
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
        let repo = fixture.repo
        let first = try fixture.instance.loadDesiredState()
        let text = try String(contentsOfFile: fixture.flowFile, encoding: .utf8)
        for interval in ["2s", "3s"] {
            try fixture.commit(text, interval: interval, message: "Sample every \(interval)")
            _ = try fixture.instance.loadDesiredState()
        }
        try ServerFixture.git(["gc", "-q", "--prune=now"], in: repo)
        try fixture.commit(text, interval: "4s", message: "Sample every 4s")
        let afterRepack = try fixture.instance.loadDesiredState()
        let compiled = try #require(afterRepack.state.compile(siteNamed: "plant-a"))
        let resource = try #require(compiled.site.resource(at: "flows/energy-monitoring"))
        #expect(String(decoding: resource.content, as: UTF8.self).contains("\"interval\":\"4s\""))

        try ServerFixture.git(["reset", "-q", "--hard", try #require(first.commitID)], in: repo)
        try ServerFixture.git(["gc", "-q", "--prune=now"], in: repo)
        let reset = try fixture.instance.loadDesiredState()
        #expect(reset.commitID == first.commitID)
        let cold = try fixture.coldLoad()
        for site in cold.state.sites {
            #expect(try #require(reset.state.compile(siteNamed: site.name)).site.fingerprint == cold.state.compile(site: site).site.fingerprint)
        }
    }
}

private extension ServerFixture {
    var flowFile: String { repo + "/flows/energy-monitoring.yaml" }

    /// Writes the energy flow `text` with its meters sampled every `interval` instead of 5 s, and commits it.
    func commit(_ text: String, interval: String, message: String) throws {
        try text.replacingOccurrences(of: "      interval: 5s", with: "      interval: \(interval)").write(toFile: flowFile, atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", message], in: repo)
    }

    /// The desired state at HEAD read afresh, with nothing reused.
    func coldLoad() throws -> DesiredState.LoadResult {
        DesiredState.load(from: try RepositorySource(repo).read(revision: "HEAD", stateDirectory: base + "/state").snapshot)
    }
}
