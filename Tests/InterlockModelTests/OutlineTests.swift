import Foundation
import InterlockGit
@testable import InterlockModel
import Testing

/// Working site by site from an outline read out of a real git repository: what is loaded when, and that the
/// results equal those of loading the whole snapshot.
@Suite struct OutlineTests {
    /// The fixture with a third site that runs a component and a flow of its own.
    private static func fleet() -> CommittedFixture {
        let committed = try! CommittedFixture()
        committed.fixture.files["components/press-line.yaml"] = """
            name: press-line
            vendor: Acme
            product: Press line controller
            version: "3.2"
            config: { speed: 40 }
            files:
              - path: press/line.conf
                template: line.conf
            """
        committed.fixture.files["components/press-line/line.conf"] = "speed ${config.speed}\nsite ${site.name}\n"
        committed.fixture.files["flows/press-oee.yaml"] = """
            name: press-oee
            bricks:
              - { id: counter, type: counter, version: 1.0.0, outputs: [] }
            connections: []
            """
        committed.fixture.files["sites/plant-c/site.yaml"] = """
            name: plant-c
            timezone: Asia/Kolkata
            target: { driver: files, root: plant-c }
            approval: { required: 1, approvers: [mgr-c] }
            values: { opcua_host: 10.9.0.1, lines: 1, broker: { port: 1883 } }
            components: [broker, press-line]
            flows: [energy, press-oee]
            """
        committed.fixture.edit("interlock.yaml", replacing: "sites: [plant-b]", with: "sites: [plant-b, plant-c]")
        return committed
    }

    private static func outline(_ committed: CommittedFixture) throws -> (DesiredStateOutline, Snapshot) {
        let full = try committed.commit()
        let repository = try Repository.open(at: committed.root.path)
        return (try DesiredStateOutline.read(repository, commit: repository.resolveID("HEAD")), full)
    }

    @Test func anOutlineHoldsTheSiteFilesButNoDefinitionUntilASiteNeedsIt() throws {
        let committed = Self.fleet()
        let (outline, full) = try Self.outline(committed)
        #expect(outline.snapshot.files.count == full.files.count)
        #expect(outline.snapshot.trees == full.trees)
        let loaded = outline.snapshot.files.filter(\.value.isLoaded).keys.sorted()
        #expect(loaded == ["interlock.yaml", "sites/plant-a/site.yaml", "sites/plant-b/site.yaml", "sites/plant-c/site.yaml"])
        #expect(!outline.snapshot.isFullyLoaded)
        #expect(outline.snapshot.content(at: "components/broker.yaml") == nil)
        #expect(outline.snapshot.files["components/broker.yaml"]?.blobID == full.files["components/broker.yaml"]?.blobID)
        #expect(outline.sites.map(\.name) == ["plant-a", "plant-b", "plant-c"])
        #expect(outline.componentNames == ["broker", "press-line"])
        #expect(outline.flowNames == ["energy", "press-oee"])

        // Plant A's part holds its own definitions, not plant C's.
        let part = try outline.part(for: outline.site(named: "plant-a")!)
        #expect(part.state.componentNames == ["broker"])
        #expect(part.state.flowNames == ["energy"])
        #expect(part.state.snapshot.content(at: "components/broker/mosquitto.conf") != nil)
        #expect(part.state.snapshot.content(at: "components/press-line.yaml") == nil)
        #expect(part.diagnostics.isEmpty)
        // The outline itself is unchanged: each part reads into its own copy.
        #expect(outline.snapshot.content(at: "components/broker.yaml") == nil)
        withExtendedLifetime(committed) {}
    }

    @Test func eachSiteCompilesAsFromTheWholeSnapshot() throws {
        let committed = Self.fleet()
        let (outline, full) = try Self.outline(committed)
        let whole = DesiredState.load(from: full)
        #expect(whole.diagnostics.isEmpty)
        for site in outline.sites {
            let bySite = try outline.compile(site)
            let expected = whole.state.compile(site: site)
            #expect(bySite.site == expected.site, "\(site.name)")
            #expect(bySite.diagnostics == expected.diagnostics)
            #expect(bySite.site.commitID == full.commitID?.hex)
        }
        withExtendedLifetime(committed) {}
    }

    @Test func validationReportsTheSameProblemsAsAFullLoad() throws {
        let committed = Self.fleet()
        // A broken definition run by one site, an unused flow with a mistake, an override that is not a map, an
        // override of a component the site does not run, and a site that runs an unknown flow.
        committed.fixture.files["components/press-line.yaml"] = "name: press-line\nconfig: { speed: [1, 2\n"
        committed.fixture.files["flows/spare.yaml"] = "name: spare\nbricks:\n  - { id: x, type: counter }\nconnections: [{ from: x.out, to: y.in }]\n"
        committed.fixture.files["sites/plant-a/overrides/components/broker.yaml"] = "- just a list\n"
        committed.fixture.files["sites/plant-c/overrides/components/historian.yaml"] = "config: { a: 1 }\n"
        committed.fixture.edit("sites/plant-b/site.yaml", replacing: "flows: [energy]", with: "flows: [energy, enrgy-oee]")
        let (outline, full) = try Self.outline(committed)
        let whole = DesiredState.validate(full)
        let bySite = try outline.validate()
        #expect(bySite.diagnostics == whole.diagnostics)
        let codes = Set(bySite.diagnostics.map(\.code))
        for code in ["wrong-type", "override-not-used", "unknown-flow"] { #expect(codes.contains(code), "\(code) in \(codes.sorted())") }
        #expect(bySite.diagnostics.contains { $0.location.file == "flows/spare.yaml" })
        #expect(bySite.diagnostics.contains { $0.location.file == "components/press-line.yaml" && $0.severity == .error })
        #expect(bySite.diagnostics.contains { $0.location.file == "sites/plant-a/overrides/components/broker.yaml" && $0.code == "wrong-type" })
        // Repository-wide problems are known from the outline alone, before any site is read.
        #expect(outline.diagnostics.contains { $0.code == "override-not-used" })
        #expect(outline.diagnostics.contains { $0.code == "unknown-flow" })
        #expect(!outline.diagnostics.contains { $0.location.file == "components/press-line.yaml" && $0.severity == .error })
        withExtendedLifetime(committed) {}
    }

    @Test func aBlobThatVanishedAfterTheOutlineWasReadIsAnErrorNamingTheRepository() throws {
        let committed = Self.fleet()
        let (outline, full) = try Self.outline(committed)
        // Remove the loose object of plant C's own component, as a damaged or pruned repository would.
        let hex = full.files["components/press-line.yaml"]!.blobID!.hex
        let object = committed.root.appendingPathComponent(".git/objects/\(hex.prefix(2))/\(hex.dropFirst(2))")
        try FileManager.default.removeItem(at: object)
        #expect(throws: GitError.self) { try outline.part(for: outline.site(named: "plant-c")!) }
        // Sites that do not run it are unaffected.
        #expect(try outline.compile(outline.site(named: "plant-a")!).diagnostics.isEmpty)
        withExtendedLifetime(committed) {}
    }

    @Test func anOutlineOfAFullSnapshotNeedsNoRepository() throws {
        let full = Fixture().snapshot
        let outline = DesiredStateOutline(full)
        let whole = DesiredState.load(from: full).state
        for site in outline.sites { #expect(try outline.compile(site).site == whole.compile(site: site).site) }
        // An outline whose files are not loaded, with nothing to load them from, says which file it misses.
        var hollow = try Self.outline(Self.fleet()).0.snapshot
        hollow.commitID = nil
        let unloadable = DesiredStateOutline(hollow)
        #expect(throws: OutlineError.self) { try unloadable.part(for: unloadable.sites[0]) }
    }

    /// A cache that keeps only an outline, updated commit after commit as a reconcile loop reads them: every load
    /// reports what a cold full load reports, every site compiles as from the full snapshot, and a changed site
    /// takes its unchanged definitions from its previous compilation.
    @Test func aCacheKeepingOnlyTheOutlineFollowsCommitsLikeAFullLoad() throws {
        let committed = Self.fleet()
        _ = try committed.commit()
        let repository = try Repository.open(at: committed.root.path)
        let reader = try Repository.open(at: committed.root.path)
        let lock = NSLock()
        nonisolated(unsafe) let contents = reader
        let cache = DesiredStateCache(bySite: { paths, snapshot in try lock.withLock { try contents.loadContent(of: paths, in: &snapshot) } })
        var snapshot = try repository.snapshotUpdate(of: repository.resolveID("HEAD"), reusing: Snapshot(files: [:]), loading: DesiredStateOutline.isReadUpFront).snapshot
        #expect(!snapshot.isFullyLoaded)
        let first = cache.update(to: snapshot)
        #expect(first.result.state.outline != nil)
        #expect(first.result.diagnostics.isEmpty)
        for site in first.result.state.sites { #expect(cache.compile(site: site, in: first.result.state).diagnostics == [], "\(site.name)") }

        // (what, edit, sites affected (nil: read afresh), definitions plant-c takes from its previous compilation)
        let edits: [(String, (inout Fixture) -> Void, [String]?, Int?)] = [
            ("plant C's own component", { $0.edit("components/press-line.yaml", replacing: "speed: 40", with: "speed: 45") }, ["plant-c"], 3),
            ("its template", { $0.edit("components/press-line/line.conf", replacing: "speed ", with: "line speed ") }, ["plant-c"], 3),
            ("the shared flow", { $0.edit("flows/energy.yaml", replacing: "window: 15m", with: "window: 10m") }, ["plant-a", "plant-b", "plant-c"], 3),
            ("plant C's values", { $0.edit("sites/plant-c/site.yaml", replacing: "lines: 1", with: "lines: 2") }, ["plant-c"], 0),
            ("an override for plant C", { $0.files["sites/plant-c/overrides/components/press-line.yaml"] = "config: { speed: 50 }\n" }, ["plant-c"], 0),
            ("a broken component", { $0.edit("components/press-line.yaml", replacing: "config: { speed: 45 }", with: "config: { speed: [45 }") }, ["plant-c"], nil),
            ("its fix", { $0.edit("components/press-line.yaml", replacing: "config: { speed: [45 }", with: "config: { speed: 46 }") }, ["plant-c"], nil),
            ("a new component", { $0.files["components/spare.yaml"] = "name: spare\n" }, nil, nil),
        ]
        for (what, edit, affected, reused) in edits {
            edit(&committed.fixture)
            _ = try committed.commit()
            let update = try repository.snapshotUpdate(of: repository.resolveID("HEAD"), reusing: snapshot)
            let result = cache.update(update)
            let full = try Repository.open(at: committed.root.path)
            let cold = DesiredState.load(from: try full.snapshot(of: full.resolveID("HEAD")))
            #expect(result.result.diagnostics == cold.diagnostics, "\(what)")
            #expect(result.result.state.sites == cold.state.sites, "\(what)")
            #expect(result.affectedSites == affected, "\(what)")
            #expect(result.incremental == (affected != nil), "\(what)")
            for site in cold.state.sites {
                let before = cache.statistics.definitionsReused
                let cached = cache.compile(site: site, in: result.result.state)
                let fresh = cold.state.compile(site: site)
                #expect(cached.site == fresh.site, "\(what): \(site.name)")
                // A site also reports the problems of the files it reads, which a full load reports at load.
                #expect(Set(fresh.diagnostics).isSubset(of: Set(cached.diagnostics)), "\(what): \(site.name)")
                #expect(Set(cached.diagnostics).subtracting(fresh.diagnostics).isSubset(of: Set(cold.diagnostics)), "\(what): \(site.name)")
                if site.name == "plant-c", let reused { #expect(cache.statistics.definitionsReused - before == reused, "\(what): reused") }
            }
            snapshot = update.snapshot
        }
        // The broken component was refused at load, as a full load refuses it.
        withExtendedLifetime(committed) {}
    }

    @Test func resultsAreDeliveredInOrderWhateverOrderTheyFinishIn() {
        let items = Array(0..<200)
        var delivered: [Int] = []
        ParallelMap.forEach(items, workersPerCore: 3, { item -> Int in
            if item % 7 == 0 { usleep(2_000) }  // slow items finish after later ones
            return item * 2
        }, deliver: { delivered.append($0) })
        #expect(delivered == items.map { $0 * 2 })
        // When delivering is slower than working, workers wait rather than pile up results: at most twice as many
        // results as there are workers are ever claimed ahead of the one delivered next.
        let workers = min(ProcessInfo.processInfo.activeProcessorCount * 3, 60)
        let started = Locked(0)
        var handedOn = 0, mostAhead = 0
        ParallelMap.forEach(Array(0..<60), workersPerCore: 3, { item -> Int in
            started.withLock { $0 += 1 }
            return item
        }, deliver: { item in
            #expect(item == handedOn)
            mostAhead = max(mostAhead, started.withLock { $0 } - handedOn)
            usleep(1_000)
            handedOn += 1
        })
        #expect(handedOn == 60)
        #expect(mostAhead <= 2 * workers, "\(mostAhead) results claimed ahead with \(workers) workers")
        #expect(mostAhead < 60)
        var none: [Int] = []
        ParallelMap.forEach([Int](), { $0 }, deliver: { none.append($0) })
        #expect(none.isEmpty)
    }
}

/// A value behind a lock, for counting from several threads in a test.
private final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
