import Foundation
import InterlockGit
@testable import InterlockModel
import Testing

/// The fixture repository committed with the git CLI, so snapshots carry real blob and tree ids.
final class CommittedFixture {
    let root: URL
    var fixture = Fixture()
    private var clock = 1_700_000_000

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("interlock-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try git(["init", "-q", "-b", "main"])
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Writes the fixture's files (removing files it no longer has) and commits them.
    func commit() throws -> Snapshot {
        let manager = FileManager.default
        for path in (manager.enumerator(atPath: root.path)?.allObjects as? [String] ?? []) where !path.hasPrefix(".git") {
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fixture.files[path] == nil {
                try manager.removeItem(at: root.appendingPathComponent(path))
            }
        }
        for (path, text) in fixture.files {
            let url = root.appendingPathComponent(path)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        try git(["add", "-A"])
        try git(["commit", "-q", "--allow-empty", "-m", "change"])
        let repository = try Repository.open(at: root.path)
        return try repository.snapshot(of: repository.resolveID("HEAD"))
    }

    func update(from previous: Snapshot) throws -> SnapshotUpdate {
        _ = try commit()
        let repository = try Repository.open(at: root.path)
        return try repository.snapshotUpdate(of: repository.resolveID("HEAD"), reusing: previous)
    }

    private func git(_ arguments: [String]) throws {
        clock += 60
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-c", "user.name=Cache Test", "-c", "user.email=cache@example.com", "-c", "commit.gpgsign=false"] + arguments
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.merging([
            "GIT_AUTHOR_DATE": "\(clock) +0000", "GIT_COMMITTER_DATE": "\(clock) +0000",
        ]) { $1 }
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CacheTestFailure(description: "git \(arguments) failed") }
    }
}

private struct CacheTestFailure: Error, CustomStringConvertible { var description: String }

/// Cached results must equal a cold load and cold compiles of the same snapshot, field by field.
private func expectSameAsCold(_ result: DesiredState.LoadResult, _ snapshot: Snapshot, cache: DesiredStateCache, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let cold = DesiredState.load(from: snapshot)
    #expect(result.diagnostics == cold.diagnostics, sourceLocation: sourceLocation)
    #expect(result.state.sites == cold.state.sites, sourceLocation: sourceLocation)
    #expect(result.state.componentDocuments == cold.state.componentDocuments, sourceLocation: sourceLocation)
    #expect(result.state.flowDocuments == cold.state.flowDocuments, sourceLocation: sourceLocation)
    #expect(result.state.overrides == cold.state.overrides, sourceLocation: sourceLocation)
    #expect(result.state.commitID == cold.state.commitID, sourceLocation: sourceLocation)
    #expect(result.state.snapshot.files == snapshot.files, sourceLocation: sourceLocation)
    for site in cold.state.sites {
        let cached = cache.compile(site: site, in: result.state)
        let fresh = cold.state.compile(site: site)
        #expect(cached.site == fresh.site, "site \(site.name)", sourceLocation: sourceLocation)
        #expect(cached.diagnostics == fresh.diagnostics, "site \(site.name)", sourceLocation: sourceLocation)
    }
}

@Suite("DesiredStateCache")
struct CacheTests {
    @Test func aWarmLoadOfTheSameCommitEqualsAColdLoad() throws {
        let repo = try CommittedFixture()
        let snapshot = try repo.commit()
        let cache = DesiredStateCache()
        expectSameAsCold(cache.load(snapshot), snapshot, cache: cache)
        let parsed = cache.statistics.documentsParsed
        let again = cache.update(to: snapshot)
        #expect(again.changedPaths == [])
        #expect(again.affectedSites == [])
        expectSameAsCold(again.result, snapshot, cache: cache)
        #expect(cache.statistics.documentsParsed == parsed)
        #expect(cache.statistics.compilationsReused >= 2)
    }

    @Test func aChangeInvalidatesExactlyTheSitesThatCompileFromIt() throws {
        let repo = try CommittedFixture()
        var snapshot = try repo.commit()
        let cache = DesiredStateCache()
        _ = cache.load(snapshot)
        for site in cache.load(snapshot).state.sites { _ = cache.compile(site: site, in: cache.load(snapshot).state) }

        // (edit, sites whose compile inputs it changes)
        let edits: [(String, (inout Fixture) -> Void, [String])] = [
            ("a site value", { $0.edit("sites/plant-a/site.yaml", replacing: "lines: 4", with: "lines: 5") }, ["plant-a"]),
            ("an override", { $0.edit("sites/plant-b/overrides/components/broker.yaml", replacing: "250", with: "300") }, ["plant-b"]),
            ("a template", { $0.edit("components/broker/mosquitto.conf", replacing: "listener", with: "listener  ") }, ["plant-a", "plant-b"]),
            ("a component", { $0.edit("components/broker.yaml", replacing: "max_connections: 100", with: "max_connections: 120") }, ["plant-a", "plant-b"]),
            ("a flow", { $0.edit("flows/energy.yaml", replacing: "interval: 5s }\n    layout", with: "interval: 6s }\n    layout") }, ["plant-a", "plant-b"]),
            ("a README", { $0.files["README.md"] = "# fleet\n" }, []),
            ("a new override", { $0.files["sites/plant-a/overrides/flows/energy.yaml"] = "bricks:\n  meter-1:\n    config: { interval: 1s }\n" }, ["plant-a"]),
            ("a removed override", { $0.files["sites/plant-a/overrides/flows/energy.yaml"] = nil }, ["plant-a"]),
        ]
        for (what, edit, expected) in edits {
            edit(&repo.fixture)
            let update = try repo.update(from: snapshot)
            let before = cache.statistics
            let result = cache.update(update)
            #expect(result.incremental, "\(what)")
            #expect(result.affectedSites == expected, "\(what)")
            expectSameAsCold(result.result, update.snapshot, cache: cache)
            let after = cache.statistics
            #expect(after.compilations - before.compilations == expected.count, "\(what): compiled again")
            #expect(after.compilationsReused - before.compilationsReused == 2 - expected.count, "\(what): reused")
            snapshot = update.snapshot
        }
    }

    @Test func changesOutsideTheIncrementalPathFallBackToAFullLoadWithTheSameResult() throws {
        let repo = try CommittedFixture()
        var snapshot = try repo.commit()
        let cache = DesiredStateCache()
        _ = cache.load(snapshot)
        let edits: [(String, (inout Fixture) -> Void, Bool)] = [
            ("waves", { $0.edit("interlock.yaml", replacing: "bake: 24h", with: "bake: 12h") }, false),
            ("a new site", { $0.files["sites/plant-c/site.yaml"] = $0.files["sites/plant-b/site.yaml"]!.replacingOccurrences(of: "plant-b", with: "plant-c") }, true),
            ("a YAML error", { $0.edit("sites/plant-a/site.yaml", replacing: "lines: 4", with: "lines: [4") }, true),
            ("fixed again", { $0.edit("sites/plant-a/site.yaml", replacing: "lines: [4", with: "lines: 4") }, true),
            ("an unknown component", { $0.edit("sites/plant-b/site.yaml", replacing: "components: [broker]", with: "components: [broker, brokr]") }, false),
            ("a new component", { $0.files["components/historian.yaml"] = "name: historian\nvendor: V\nproduct: P\nversion: \"1\"\n" }, false),
            ("a broken flow", { $0.edit("flows/energy.yaml", replacing: "to: dashboard.in }", with: "to: dashbord.in }") }, true),
            ("a name mismatch", { $0.edit("sites/plant-a/site.yaml", replacing: "name: plant-a", with: "name: plant-x") }, false),
        ]
        for (what, edit, incremental) in edits {
            edit(&repo.fixture)
            let update = try repo.update(from: snapshot)
            let result = cache.update(update)
            #expect(result.incremental == incremental, "\(what)")
            expectSameAsCold(result.result, update.snapshot, cache: cache)
            snapshot = update.snapshot
        }
    }

    @Test func aSnapshotWithoutObjectIDsIsLoadedAndCompiledWithoutCaching() {
        let snapshot = Fixture().snapshot
        let cache = DesiredStateCache()
        let result = cache.load(snapshot)
        expectSameAsCold(result, snapshot, cache: cache)
        #expect(cache.statistics.compilations == 0)
        #expect(DesiredStateCache.inputs(of: result.state.sites[0], in: result.state) == nil)
    }

    @Test func theCompilationCacheKeepsAtMostItsLimit() throws {
        let repo = try CommittedFixture()
        let snapshot = try repo.commit()
        let cache = DesiredStateCache(compiledSiteLimit: 1)
        let state = cache.load(snapshot).state
        for site in state.sites { _ = cache.compile(site: site, in: state) }
        for site in state.sites { _ = cache.compile(site: site, in: state) }
        #expect(cache.statistics.compilationsReused == 0)
        #expect(cache.statistics.compilations == 4)
    }

    /// A site compiled again because one of its definitions changed takes the others from its previous compilation;
    /// a change to the site itself, or a previous compilation with diagnostics, compiles everything again. Every
    /// result equals a cold compile.
    @Test func aChangedDefinitionIsCompiledAgainAndTheSiteReusesTheRest() throws {
        let repo = try CommittedFixture()
        repo.fixture.files["components/historian.yaml"] = """
            name: historian
            vendor: Acme
            product: Historian
            version: "7.1"
            config: { retention: 30d, line: "${values.lines}" }
            files:
              - path: historian/historian.ini
                template: historian.ini
            """
        repo.fixture.files["components/historian/historian.ini"] = "retention=${config.retention}\nsite=${site.name}\n"
        repo.fixture.edit("sites/plant-a/site.yaml", replacing: "components: [broker]", with: "components: [broker, historian]")
        var snapshot = try repo.commit()
        let cache = DesiredStateCache()
        let first = cache.load(snapshot)
        for site in first.state.sites { #expect(cache.compile(site: site, in: first.state).diagnostics.isEmpty) }

        // (edit, components and flows of plant-a taken from its previous compilation)
        let edits: [(String, (inout Fixture) -> Void, Int)] = [
            ("the historian's template", { $0.edit("components/historian/historian.ini", replacing: "retention=", with: "keep=") }, 2),
            ("the historian", { $0.edit("components/historian.yaml", replacing: "retention: 30d", with: "retention: 90d") }, 2),
            ("the broker", { $0.edit("components/broker.yaml", replacing: "max_connections: 100", with: "max_connections: 120") }, 2),
            ("the flow", { $0.edit("flows/energy.yaml", replacing: "window: 15m", with: "window: 10m") }, 2),
            ("plant-a's values", { $0.edit("sites/plant-a/site.yaml", replacing: "lines: 4", with: "lines: 6") }, 0),
            ("an unknown value", { $0.edit("components/historian.yaml", replacing: "${values.lines}", with: "${values.nope}") }, 2),
            ("after a compilation with an error", { $0.edit("components/broker.yaml", replacing: "max_connections: 120", with: "max_connections: 130") }, 0),
        ]
        for (what, edit, reused) in edits {
            edit(&repo.fixture)
            let update = try repo.update(from: snapshot)
            let result = cache.update(update)
            let site = try #require(result.result.state.site(named: "plant-a"))
            let before = cache.statistics.definitionsReused
            let cached = cache.compile(site: site, in: result.result.state)
            let cold = DesiredState.load(from: update.snapshot).state.compile(siteNamed: "plant-a")!
            #expect(cached.site == cold.site, "\(what)")
            #expect(cached.diagnostics == cold.diagnostics, "\(what)")
            #expect(cache.statistics.definitionsReused - before == reused, "\(what): reused")
            expectSameAsCold(result.result, update.snapshot, cache: cache)
            snapshot = update.snapshot
        }
    }
}
