import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel
import InterlockStore

/// Where one dataset lives: the bare repository and a work directory for deployed roots and databases.
struct Dataset {
    var name: String
    var repository: String
    var work: String
    var runs: Int

    func snapshot(_ revision: String = "HEAD") throws -> Snapshot {
        let repo = try Repository.open(at: repository)
        return try repo.snapshot(of: repo.resolveID(revision))
    }

    /// The outline at `revision`, reading each site's files from the repository as it is compiled.
    func outline(_ revision: String = "HEAD") throws -> DesiredStateOutline {
        let repo = try Repository.open(at: repository)
        return try DesiredStateOutline.read(repo, commit: repo.resolveID(revision))
    }

    func load(_ snapshot: Snapshot) throws -> DesiredState {
        let loaded = DesiredState.load(from: snapshot)
        guard loaded.isValid else { throw BenchError("\(name) does not load: \(loaded.diagnostics.prefix(3))") }
        return loaded.state
    }

    /// `<work>/roots-<kind>`: target base of deployed sites.
    func roots(_ kind: String) -> String { work + "/roots-" + kind }
}

let flagshipSite = "plant-0000"

/// Every operation the harness measures, by name. Each runs in its own child process.
enum Operation: String, CaseIterable {
    case check, read, load, compile, planFirst = "plan-first", planChanged = "plan-10pct", readValidatePlan = "read+validate+plan"
    case outline, validateBySite = "validate-by-site", planBySite = "read+plan-by-site"
    case replan, replanBySite = "replan-by-site", replanCold = "replan-cold", sitePlan = "site-plan", auditBatched = "audit-append-batched"
    case auditSingle = "audit-append-single", auditVerify = "audit-verify"

    func measure(_ data: Dataset) throws -> Measurement {
        switch self {
        case .check: return try checkValid(data)
        case .read: return try measureRead(data)
        case .load: return try measureLoad(data)
        case .compile: return try compileAll(data)
        case .planFirst: return try planAll(data, changedPercent: nil)
        case .planChanged: return try planAll(data, changedPercent: 10)
        case .readValidatePlan: return try measureReadValidatePlan(data)
        case .outline: return try measureOutline(data)
        case .validateBySite: return try measureValidateBySite(data)
        case .planBySite: return try measurePlanBySite(data)
        case .replan: return try measureReplan(data, bySite: false)
        case .replanBySite: return try measureReplan(data, bySite: true)
        case .replanCold: return try measureReplanCold(data)
        case .sitePlan: return try measureSitePlan(data)
        case .auditBatched: return try auditAppend(data, batch: 1000, count: 100_000)
        case .auditSingle: return try auditAppend(data, batch: 1, count: 2_000)
        case .auditVerify: return try measureAuditVerify(data)
        }
    }
}

/// `DesiredState.validate` must report no error at all: otherwise the numbers would measure error paths.
private func checkValid(_ data: Dataset) throws -> Measurement {
    let snapshot = try data.snapshot()
    var result: (state: DesiredState, sites: [CompiledSite], diagnostics: [Diagnostic])?
    let time = timed { result = DesiredState.validate(snapshot) }
    let errors = result!.diagnostics.filter { $0.severity == .error }
    guard errors.isEmpty else { throw BenchError("\(data.name): validate reports \(errors.count) error(s), first: \(errors[0])") }
    let resources = result!.sites.reduce(0) { $0 + $1.resources.count }
    return Measurement(
        operation: "validate (check)", dataset: data.name, times: [time], items: snapshot.files.count, unit: "files", bytes: snapshot.totalBytes,
        peakRSSKiB: peakRSSKiB(),
        note: "DesiredState.validate: 0 errors, \(result!.diagnostics.count) warning(s); \(result!.sites.count) sites, \(resources) resources")
}

private func measureRead(_ data: Dataset) throws -> Measurement {
    var times: [Double] = []
    var files = 0, bytes = 0
    for _ in 0..<data.runs {
        var snapshot: Snapshot?
        times.append(try timed { snapshot = try data.snapshot() })
        files = snapshot!.files.count
        bytes = snapshot!.totalBytes
    }
    var peer: [Double] = []
    for _ in 0..<data.runs {
        peer.append(try timeShell("git -C '\(data.repository)' ls-tree -r --object-only HEAD | git -C '\(data.repository)' cat-file --batch"))
    }
    return Measurement(
        operation: "snapshot read", dataset: data.name, times: times, items: files, unit: "files", bytes: bytes, peakRSSKiB: peakRSSKiB(),
        peer: "git ls-tree|cat-file", peerTimes: peer)
}

private func measureLoad(_ data: Dataset) throws -> Measurement {
    let snapshot = try data.snapshot()
    var times: [Double] = [], cached: [Double] = []
    for _ in 0..<data.runs {
        var result: DesiredState.LoadResult?
        times.append(timed { result = DesiredState.load(from: snapshot) })
        guard result!.isValid else { throw BenchError("load reports errors") }
    }
    for _ in 0..<data.runs {
        let cache = DesiredStateCache()
        cached.append(timed { _ = cache.load(snapshot) })
    }
    return Measurement(
        operation: "parse+validate (load)", dataset: data.name, times: times, items: snapshot.files.count, unit: "files",
        bytes: snapshot.totalBytes, peakRSSKiB: peakRSSKiB(),
        note: "DesiredState.load (YAML parsed on all cores, then read and cross-checked in order); a cold DesiredStateCache.load took \(formatSeconds(median(cached)))")
}

private func compileAll(_ data: Dataset) throws -> Measurement {
    let state = try data.load(data.snapshot())
    var times: [Double] = []
    var resources = 0, bytes = 0
    for _ in 0..<data.runs {
        resources = 0; bytes = 0
        times.append(try timed {
            for site in state.sites {
                let compilation = state.compile(site: site)
                guard compilation.isValid else { throw BenchError("\(site.name) does not compile") }
                resources += compilation.site.resources.count
                bytes += compilation.site.resources.reduce(0) { $0 + $1.content.count }
            }
        })
    }
    return Measurement(
        operation: "compile all sites", dataset: data.name, times: times, items: resources, unit: "resources", bytes: bytes,
        peakRSSKiB: peakRSSKiB(), note: "\(state.sites.count) sites, one after the other; results dropped as they go")
}

/// Deploys every site once (cached on disk) for the 10 % case; plans every site against its root.
private func planAll(_ data: Dataset, changedPercent: Int?) throws -> Measurement {
    let state = try data.load(data.snapshot())
    let base = data.roots(changedPercent == nil ? "empty" : "changed\(changedPercent!)")
    if let changedPercent, !FileManager.default.fileExists(atPath: base + "/.complete") {
        for site in state.sites {
            try deploy(state.compile(site: site).site, into: base + "/" + site.name, changedPercent: changedPercent)
        }
        FileManager.default.createFile(atPath: base + "/.complete", contents: Data())
    }
    var times: [Double] = []
    var resources = 0, operations = 0
    for _ in 0..<data.runs {
        resources = 0; operations = 0
        times.append(try timed {
            for site in state.sites {
                let plan = try planSite(state.compile(site: site), targetBase: base)
                resources += plan.operations.count == 0 ? 0 : 0
                operations += plan.operations.count
            }
        })
        resources = state.sites.reduce(0) { $0 + ($1.components.count + $1.flows.count) }
    }
    let what = changedPercent == nil ? "first deploy into empty roots" : "after deploying, \(changedPercent!) % of files changed"
    return Measurement(
        operation: changedPercent == nil ? "plan all (first deploy)" : "plan all (10% changed)", dataset: data.name, times: times,
        items: state.sites.count, unit: "sites", bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: "\(what): compile + observe + plan of \(state.sites.count) sites, \(operations) operations")
}

/// The issue's end-to-end figure: read the commit, load and check it, plan every site (10 % changed roots).
private func measureReadValidatePlan(_ data: Dataset) throws -> Measurement {
    let base = data.roots("changed10")
    guard FileManager.default.fileExists(atPath: base + "/.complete") else { throw BenchError("run plan-10pct first (it deploys the roots)") }
    var times: [Double] = [], cachedTimes: [Double] = []
    var phases: (read: [Double], load: [Double], plan: [Double]) = ([], [], [])
    var sites = 0
    for _ in 0..<data.runs {
        // `interlock plan --all` leaves its state and plans to the process exit (`KeptUntilExit`): here they are
        // freed after the clock stops.
        var kept: [Any] = []
        defer { kept.removeAll() }
        times.append(try timed {
            // What `interlock plan --all` does: parallel parse, read and check, then every site planned on all cores.
            var mark = now()
            func phase(_ record: inout [Double]) {
                let next = now()
                record.append(next - mark)
                mark = next
            }
            let snapshot = try data.snapshot()
            phase(&phases.read)
            let state = try data.load(snapshot)
            phase(&phases.load)
            sites = state.sites.count
            let outcomes = SitePlanning(targetBase: base).plan(state.sites, in: state)
            for outcome in outcomes {
                guard case .planned = outcome else { throw BenchError("\(outcome.site.name) did not plan: \(outcome)") }
            }
            phase(&phases.plan)
            kept = [snapshot, state, outcomes]
        })
    }
    // The same with a cold DesiredStateCache: parallel parsing, and sites planned on all cores.
    for _ in 0..<data.runs {
        cachedTimes.append(try timed {
            let cache = DesiredStateCache()
            let loaded = cache.load(try data.snapshot())
            guard loaded.isValid else { throw BenchError("load reports errors") }
            let state = loaded.state
            let failures = FailureBox()
            DispatchQueue.concurrentPerform(iterations: state.sites.count) { index in
                do { _ = try planSite(state.compile(site: state.sites[index]), targetBase: base) } catch { failures.record(error) }
            }
            if let error = failures.first { throw error }
        })
    }
    return Measurement(
        operation: "read+validate+plan all", dataset: data.name, times: times, items: sites, unit: "sites", bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: "snapshot + DesiredState.load + SitePlanning.plan of every site (all cores), freed after timing as the CLI leaves them to the exit; medians: read \(formatSeconds(median(phases.read))), load \(formatSeconds(median(phases.load))), plan \(formatSeconds(median(phases.plan))); with a cold DesiredStateCache: \(formatSeconds(median(cachedTimes)))")
}

/// The outline alone: every tree read, `interlock.yaml` and the site files parsed and cross-checked.
private func measureOutline(_ data: Dataset) throws -> Measurement {
    var times: [Double] = []
    var files = 0, sites = 0
    for _ in 0..<data.runs {
        var outline: DesiredStateOutline?
        times.append(try timed { outline = try data.outline() })
        guard outline!.isValid else { throw BenchError("the outline of \(data.name) reports errors") }
        files = outline!.snapshot.files.count
        sites = outline!.sites.count
    }
    return Measurement(
        operation: "outline read", dataset: data.name, times: times, items: files, unit: "files", bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: "Repository.outline + DesiredStateOutline: every path and id, interlock.yaml and \(sites) site files read and cross-checked")
}

/// `interlock validate`: the outline, then every site read, compiled and dropped on all cores, then unused definitions.
private func measureValidateBySite(_ data: Dataset) throws -> Measurement {
    var times: [Double] = []
    var resources = 0, sites = 0, files = 0
    for _ in 0..<data.runs {
        times.append(try timed {
            let outline = try data.outline()
            let result = try outline.validate()
            if let error = result.diagnostics.first(where: { $0.severity == .error }) { throw BenchError("\(data.name): \(error)") }
            resources = result.sites.reduce(0) { $0 + $1.resources }
            sites = result.sites.count
            files = outline.snapshot.files.count
        })
    }
    return Measurement(
        operation: "validate, site by site", dataset: data.name, times: times, items: files, unit: "files", bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: "DesiredStateOutline.validate (what interlock validate runs): \(sites) sites, \(resources) resources, 0 errors")
}

/// What `interlock plan --all` runs: the outline, then every site read, compiled, observed, planned and reduced to its
/// rendering on all cores, delivered in order. The medium dataset plans against the roots with 10 % changed (run
/// plan-10pct first); a dataset without them plans a first deployment into empty roots.
private func measurePlanBySite(_ data: Dataset) throws -> Measurement {
    let changed = data.roots("changed10")
    let haveChanged = FileManager.default.fileExists(atPath: changed + "/.complete")
    let base = haveChanged ? changed : data.roots("empty")
    var times: [Double] = [], outlineTimes: [Double] = []
    var sites = 0, operations = 0, renderedBytes = 0
    for _ in 0..<data.runs {
        times.append(try timed {
            let start = now()
            let outline = try data.outline()
            guard outline.isValid else { throw BenchError("the outline of \(data.name) reports errors") }
            outlineTimes.append(now() - start)
            sites = outline.sites.count
            operations = 0; renderedBytes = 0
            var failure: String?
            SitePlanning(targetBase: base).plan(outline.sites, in: outline, reduce: { outcome -> (String?, Int, Int) in
                guard case .planned(_, _, let plan) = outcome else { return ("\(outcome.site.name) did not plan: \(outcome)", 0, 0) }
                // The size of what the CLI prints: every operation's change lines.
                return (nil, plan.operations.count, plan.operations.reduce(0) { $0 + $1.changes.reduce(0) { $0 + $1.utf8.count + 1 } })
            }, deliver: { result in
                failure = failure ?? result.0
                operations += result.1
                renderedBytes += result.2
            })
            if let failure { throw BenchError(failure) }
        })
    }
    let what = haveChanged ? "roots with 10 % of files changed" : "a first deployment into empty roots"
    return Measurement(
        operation: "read+validate+plan, site by site", dataset: data.name, times: times, items: sites, unit: "sites", bytes: 0,
        peakRSSKiB: peakRSSKiB(),
        note: "what interlock plan --all runs (DesiredStateOutline, SitePlanning.plan(_:in:reduce:deliver:)), against \(what): outline \(formatSeconds(median(outlineTimes))), \(operations) operations, \(renderedBytes / 1024) KiB of change lines")
}

/// Reads file contents for an outline, one request at a time.
final class ContentReader: @unchecked Sendable {
    private let lock = NSLock()
    private let repository: Repository
    init(_ repository: Repository) { self.repository = repository }
    func load(_ paths: [String], into snapshot: inout Snapshot) throws {
        try lock.withLock { try repository.loadContent(of: paths, in: &snapshot) }
    }
}

final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var first: Error?
    func record(_ error: Error) { lock.withLock { if first == nil { first = error } } }
}

/// Makes (once) a branch `bench-replan-chain` of ten commits after HEAD, each editing the same cell component of one
/// site (the PLC's rack number): a stream of one-file commits, each new to every cache.
func replanCommits(_ data: Dataset) throws -> (base: ObjectID, chain: [ObjectID], path: String, site: String) {
    let repo = try Repository.open(at: data.repository)
    let base = try repo.resolveID("main")
    // The outline knows the sites without parsing every file (which would set this process's peak memory).
    let sites = try data.outline(base.hex).sites.count
    let site = RepositoryGenerator.siteName(max(0, min(42, sites - 1)))
    let path = "components/\(site)-cell-007.yaml"
    let length = 10
    func chain() throws -> [ObjectID] {
        try (0..<length).map { try repo.resolveID("bench-replan-chain~\(length - 1 - $0)") }
    }
    if (try? repo.resolveID("bench-replan-chain")) != nil { return (base, try chain(), path, site) }
    let snapshot = try repo.snapshot(of: base)
    guard let old = snapshot.content(at: path) else { throw BenchError("no \(path) in \(data.name)") }
    var input = Data()
    for rack in 1...length {
        let edited = String(decoding: old, as: UTF8.self).replacingOccurrences(of: "    rack: 0\n", with: "    rack: \(rack)\n")
        let bytes = Array(edited.utf8)
        let message = "Move one PLC to rack \(rack)"
        var stream = "commit refs/heads/bench-replan-chain\ncommitter Bench <bench@example.com> \(1_790_000_000 + rack) +0000\n"
        stream += "data \(message.utf8.count)\n\(message)\n"
        if rack == 1 { stream += "from \(base.hex)\n" }
        stream += "M 100644 inline \(path)\ndata \(bytes.count)\n"
        input.append(Data(stream.utf8))
        input.append(contentsOf: bytes)
        input.append(contentsOf: Array("\n".utf8))
    }
    try run(["git", "-C", data.repository, "fast-import", "--quiet"], input: input)
    return (base, try chain(), path, site)
}

/// Re-plan after a one-file commit, with the cache warmed at the commit before: incremental snapshot (the repository
/// kept open between passes, as `interlock serve` and `interlock run` keep it), incremental load, compile and plan of
/// the affected sites only.
/// With `bySite`, as `interlock serve` reads by default: the cache keeps an outline, and the affected site reads its
/// own files when it compiles; otherwise the cache keeps every parsed document.
private func measureReplan(_ data: Dataset, bySite: Bool) throws -> Measurement {
    let commits = try replanCommits(data)
    let base = data.roots("replan")
    let contents = ContentReader(try Repository.open(at: data.repository))
    let cache = bySite ? DesiredStateCache(bySite: { paths, snapshot in try contents.load(paths, into: &snapshot) }) : DesiredStateCache()
    let source = RepositorySource(data.repository)
    var repository: Repository?
    let baseSnapshot = try source.read(
        revision: commits.base.hex, stateDirectory: data.work, reusing: nil, keeping: &repository, outline: bySite).update.snapshot
    let loaded = cache.load(baseSnapshot)
    guard loaded.isValid, let site = loaded.state.site(named: commits.site) else { throw BenchError("cannot load \(data.name)") }
    try deploy(cache.compile(site: site, in: loaded.state).site, into: base + "/" + site.name)
    var times: [Double] = []
    var phases: (read: [Double], load: [Double], compile: [Double], observeAndPlan: [Double]) = ([], [], [], [])
    var affected: [String] = [], changed = 0, operations = 0
    var current = baseSnapshot
    for next in commits.chain.prefix(data.runs) {
        times.append(try timed {
            var mark = now()
            func phase(_ record: inout [Double]) {
                let next = now()
                record.append(next - mark)
                mark = next
            }
            // As `DesiredStateReader` reads each pass of `interlock serve`: the repository kept open, the previous
            // snapshot reused.
            let update = try source.read(revision: next.hex, stateDirectory: data.work, reusing: current, keeping: &repository, outline: bySite).update
            phase(&phases.read)
            let result = cache.update(update)
            guard update.changedPaths.count == 1, result.incremental, result.result.isValid, let sites = result.affectedSites else {
                throw BenchError("the re-plan was not incremental: \(update.changedPaths.count) changed paths")
            }
            phase(&phases.load)
            affected = sites
            changed = update.changedPaths.count
            operations = 0
            for name in sites {
                guard let site = result.result.state.site(named: name) else { continue }
                let compilation = cache.compile(site: site, in: result.result.state)
                phase(&phases.compile)
                operations += try planSite(compilation, targetBase: base).operations.count
                phase(&phases.observeAndPlan)
            }
            current = update.snapshot
        })
    }
    let stats = cache.statistics
    return Measurement(
        operation: bySite ? "re-plan after 1-file commit, by site" : "re-plan after 1-file commit", dataset: data.name, times: times,
        items: current.files.count, unit: "files", bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: (bySite ? "the cache keeps an outline (interlock serve's default); " : "the cache keeps every parsed document; ") + "\(changed) changed path (\(commits.path)), affected sites \(affected), \(operations) operation(s); loads: \(stats.incrementalLoads) incremental, \(stats.fullLoads) full; medians: snapshot update \(formatSeconds(median(phases.read))), load \(formatSeconds(median(phases.load))), compile \(formatSeconds(median(phases.compile))), observe + plan \(formatSeconds(median(phases.observeAndPlan)))")
}

/// The same re-plan without any reuse, as a fresh `interlock plan --site` does it: read the outline of the new
/// commit, then read, compile and plan the affected site.
private func measureReplanCold(_ data: Dataset) throws -> Measurement {
    let commits = try replanCommits(data)
    let base = data.roots("replan")
    var times: [Double] = []
    for _ in 0..<data.runs {
        times.append(try timed {
            let outline = try data.outline(commits.chain[0].hex)
            guard let site = outline.site(named: commits.site) else { throw BenchError("no site \(commits.site)") }
            _ = try planSite(outline.compile(site), targetBase: base)
        })
    }
    return Measurement(
        operation: "re-plan, no reuse", dataset: data.name, times: times, items: 0, unit: "files", bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: "a fresh process's work: outline of the new commit + read, compile and plan of the one affected site")
}

/// Plans the flagship site (about 1,000 files) against a deployed copy that is in sync; peers: rsync and Ansible.
private func measureSitePlan(_ data: Dataset) throws -> Measurement {
    // As `interlock plan --site` reads it: the outline, and the site's own files.
    let state = try data.outline().state
    guard let site = state.site(named: flagshipSite) else { throw BenchError("no \(flagshipSite)") }
    let compiled = state.compile(site: site).site
    let base = data.roots("site")
    let desiredDirectory = data.work + "/site-desired"
    try deploy(compiled, into: base + "/" + site.name)
    try deploy(compiled, into: desiredDirectory, manifest: false)
    var times: [Double] = []
    for _ in 0..<data.runs {
        times.append(try timed {
            let plan = try planSite(state.compile(site: site), targetBase: base)
            guard plan.operations.isEmpty else { throw BenchError("the deployed copy is not in sync: \(plan.operations.count) operations") }
        })
    }
    let files = compiled.resources.count
    let bytes = compiled.resources.reduce(0) { $0 + $1.content.count }
    var measurement = Measurement(
        operation: "plan one site (\(files) files)", dataset: data.name, times: times, items: files, unit: "files", bytes: bytes,
        peakRSSKiB: peakRSSKiB(), note: "read the site's files from git and parse them + compile + observe (read and hash every live file) + plan, in sync")
    if available("rsync") {
        var peer: [Double] = []
        for _ in 0..<data.runs {
            peer.append(try timeShell("rsync -n -a --checksum '\(desiredDirectory)/' '\(base)/\(site.name)/'"))
        }
        measurement.peer = "rsync -n -a --checksum"
        measurement.peerTimes = peer
    } else {
        measurement.note += "; rsync not installed: peer skipped"
    }
    return measurement
}

/// Ansible check mode over 100 of the flagship's files, per file, against Interlock's per-file plan time.
func ansiblePeer(_ data: Dataset, interlockPerFile: Double) throws -> Measurement? {
    guard available("ansible-playbook") else {
        print("ansible-playbook not found: the Ansible peer is skipped (pip install ansible-core)")
        return nil
    }
    let desired = data.work + "/site-desired"
    let live = data.roots("site") + "/" + flagshipSite
    let files = (FileManager.default.enumerator(atPath: desired)?.allObjects as? [String] ?? [])
        .filter { !$0.hasPrefix(".interlock") && $0.contains(".") }
        .filter { var isDirectory: ObjCBool = false; FileManager.default.fileExists(atPath: desired + "/" + $0, isDirectory: &isDirectory); return !isDirectory.boolValue }
        .sorted().prefix(100)
    var playbook = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
    for file in files {
        playbook += "    - copy: { src: \"\(desired)/\(file)\", dest: \"\(live)/\(file)\" }\n"
    }
    let path = data.work + "/ansible-100.yml"
    try playbook.write(toFile: path, atomically: true, encoding: .utf8)
    var times: [Double] = []
    for _ in 0..<min(3, data.runs) {
        times.append(try timeShell("ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False ansible-playbook -i localhost, -e ansible_python_interpreter=\"$(python3 -c 'import sys; print(sys.executable)')\" --check --diff '\(path)'"))
    }
    let perFile = times.map { $0 / Double(files.count) }
    return Measurement(
        operation: "plan, per file", dataset: data.name, times: [interlockPerFile], items: 1, unit: "files", bytes: 0, peakRSSKiB: 0,
        note: "Interlock: the one-site plan's median / its file count; Ansible: copy module over \(files.count) of the same files, --check --diff, local connection, per file",
        peer: "ansible-playbook --check", peerTimes: perFile)
}

private func auditAppend(_ data: Dataset, batch: Int, count: Int) throws -> Measurement {
    var times: [Double] = []
    for run in 0..<max(1, min(data.runs, 3)) {
        let path = data.work + "/audit-\(batch)-\(run).db"
        for suffix in ["", "-wal", "-shm", ".migrate-lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let store = try SQLiteStore(path: path)
        var sequence = 0
        times.append(try timed {
            while sequence < count {
                let entries = (0..<min(batch, count - sequence)).map { index in
                    AuditEntry(
                        actor: AuditActor(id: "bench", name: "Bench", role: "test", authentication: "system"),
                        category: .system, action: "bench.append", site: "plant-\(String(format: "%04d", (sequence + index) % 1000))",
                        details: ["n": String(sequence + index)])
                }
                sequence += try store.append(contentsOf: entries).count
            }
        })
        if batch > 1, run == 0 { try? FileManager.default.copyItem(atPath: path, toPath: data.work + "/audit-verify.db.tmp") }
    }
    if batch > 1 {
        let target = data.work + "/audit-verify.db"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.moveItem(atPath: data.work + "/audit-verify.db.tmp", toPath: target)
    }
    return Measurement(
        operation: batch == 1 ? "audit append, single" : "audit append, batched", dataset: "audit", times: times, items: count, unit: "records",
        bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: batch == 1 ? "\(count) durable appends, one transaction (fsync) each" : "\(count) durable appends in transactions of \(batch)")
}

private func measureAuditVerify(_ data: Dataset) throws -> Measurement {
    let path = data.work + "/audit-verify.db"
    guard FileManager.default.fileExists(atPath: path) else { throw BenchError("run audit-append-batched first") }
    let store = try SQLiteStore(path: path)
    var times: [Double] = []
    var records = 0
    for _ in 0..<max(1, min(data.runs, 3)) {
        times.append(try timed {
            let result = try store.verify(trust: .none)
            guard result.ok else { throw BenchError("verify failed: \(result.problems.first!)") }
            records = result.recordCount
        })
    }
    return Measurement(
        operation: "audit verify", dataset: "audit", times: times, items: records, unit: "records", bytes: 0, peakRSSKiB: peakRSSKiB(),
        note: "SQLiteStore.verify: read every record, recompute every hash and link")
}
