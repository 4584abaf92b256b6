import Foundation
import InterlockGit

/// Reuses work between loads of the same repository at successive commits.
///
/// Parsed YAML documents are kept by path and blob id, so a load parses only files whose content changed
/// (misses are parsed on all cores). When the previous load is known and the change touches only site
/// directories or the text of existing definitions, only those sites and definitions are read again.
/// Compilations are kept by the object ids of everything a site compiles from (`SiteInputs`), so an
/// unchanged site is not compiled again, and a changed one compiles again only the components and flows whose
/// inputs changed. Every result equals what `DesiredState.load(from:)` and
/// `DesiredState.compile(site:)` return for the same snapshot. Safe to share between threads (one lock).
public final class DesiredStateCache: @unchecked Sendable {
    /// The object ids a site's compilation depends on: its directory tree and, for each component and flow
    /// it runs, the definition blob and the component's template tree.
    public struct SiteInputs: Sendable, Hashable {
        public var site: String
        public var ids: [ObjectID?]
    }

    /// What an update found and did.
    public struct Update: Sendable {
        public var result: DesiredState.LoadResult
        /// Paths that differ from the previous load; nil for a first load or a snapshot without object ids.
        public var changedPaths: [String]?
        /// Sites whose compile inputs changed (added and removed sites included); nil when unknown (compile all).
        public var affectedSites: [String]?
        /// Whether only the changed sites and definitions were read.
        public var incremental: Bool
    }

    /// Counters, for tests and benchmarks.
    public struct Statistics: Sendable, Hashable {
        public var documentsParsed = 0
        public var documentsReused = 0
        public var fullLoads = 0
        public var incrementalLoads = 0
        public var compilations = 0
        public var compilationsReused = 0
        /// Components and flows taken from a site's previous compilation while compiling the site again.
        public var definitionsReused = 0
    }

    /// At most this many site compilations are kept (least recently used go first): compiled sites hold
    /// every rendered file, so a fleet-wide cache would hold the whole fleet's configuration in memory.
    public let compiledSiteLimit: Int
    /// Set when the cache keeps an outline instead of every parsed document (see `init(compiledSiteLimit:bySite:)`).
    private let loader: DesiredStateOutline.ContentLoader?

    private let lock = NSLock()
    private var documents: [String: (blob: ObjectID, parsed: ParsedDocument)] = [:]
    private var basis: LoadBasis?
    private var outline: DesiredStateOutline?
    private var compiled: [String: (inputs: SiteInputs, compilation: DesiredState.Compilation, used: Int)] = [:]
    private var useClock = 0
    private var counters = Statistics()

    /// A cache that keeps every parsed document, so a change to any file is re-read in proportion to the change.
    public init(compiledSiteLimit: Int = 64) {
        self.compiledSiteLimit = compiledSiteLimit
        loader = nil
    }

    /// A cache that keeps only an outline of the repository (`DesiredStateOutline`): each load returns a state whose
    /// sites read their definitions through `loader` when they compile. Memory follows the outline and the kept
    /// compilations instead of every parsed document (on a 1,000-site repository: under 300 MB instead of 2 GB); a
    /// changed site parses its own files again when it compiles. Definitions are still checked when they change (see
    /// `DesiredStateOutline.init(_:checkingDefinitions:loader:)`), so a load reports what a full load reports. Snapshots given to it should come from
    /// `Repository.outline(of:loading:)` with `DesiredStateOutline.isReadUpFront`, and updates of it.
    public init(compiledSiteLimit: Int = 64, bySite loader: @escaping DesiredStateOutline.ContentLoader) {
        self.compiledSiteLimit = compiledSiteLimit
        self.loader = loader
    }

    /// Whether the cache keeps an outline rather than every parsed document.
    public var worksBySite: Bool { loader != nil }

    public var statistics: Statistics { lock.withLock { counters } }

    /// Loads a snapshot, reusing whatever the previous loads left; equal to `DesiredState.load(from:)`.
    public func load(_ snapshot: Snapshot) -> DesiredState.LoadResult { update(to: snapshot).result }

    /// Loads a snapshot; the changed paths are found by comparing blob ids with the previous snapshot.
    public func update(to snapshot: Snapshot) -> Update {
        lock.withLock { updateLocked(snapshot, changed: nil) }
    }

    /// Loads the snapshot of a `Repository.snapshotUpdate`, trusting its list of changed paths when it was
    /// made from the snapshot this cache loaded last.
    public func update(_ update: SnapshotUpdate) -> Update {
        lock.withLock {
            let previous = loader == nil ? basis?.snapshot : outline?.snapshot
            let trusted = previous.map { $0.commitID != nil && $0.commitID == update.base } ?? false
            return updateLocked(update.snapshot, changed: trusted ? update.changedPaths : nil)
        }
    }

    private func updateLocked(_ snapshot: Snapshot, changed known: [String]?) -> Update {
        if let loader, snapshot.trees[""] != nil {
            guard let outline else {
                counters.fullLoads += 1
                let fresh = DesiredStateOutline(snapshot, checkingDefinitions: true, loader: loader)
                outline = fresh
                return Update(result: fresh.loadResult, changedPaths: nil, affectedSites: nil, incremental: false)
            }
            let changed = known ?? Self.changedPaths(from: outline.snapshot, to: snapshot)
            let (next, affected) = outline.updated(to: snapshot, changed: changed)
            self.outline = next
            if affected == nil { counters.fullLoads += 1 } else if !changed.isEmpty { counters.incrementalLoads += 1 }
            return Update(result: next.loadResult, changedPaths: changed, affectedSites: affected, incremental: affected != nil)
        }
        guard snapshot.trees[""] != nil else {
            counters.fullLoads += 1
            return Update(result: DesiredState.load(from: snapshot), changedPaths: nil, affectedSites: nil, incremental: false)
        }
        guard var basis else {
            let result = fullLoad(snapshot)
            return Update(result: result, changedPaths: nil, affectedSites: nil, incremental: false)
        }
        let changed = known ?? Self.changedPaths(from: basis.snapshot, to: snapshot)
        if changed.isEmpty {
            basis.snapshot = snapshot
            basis.result.state.snapshot = snapshot
            self.basis = basis
            return Update(result: basis.result, changedPaths: [], affectedSites: [], incremental: true)
        }
        var parsed: [String: ParsedDocument] = [:]
        let toParse = changed.compactMap { path in snapshot.files[path].map { (path: path, file: $0) } }.filter { ParsedDocument.isRead($0.path) }
        for (entry, document) in zip(toParse, ParsedDocument.parseAll(toParse)) {
            parsed[entry.path] = document
            documents[entry.path] = (entry.file.blobID!, document)
            counters.documentsParsed += 1
        }
        for path in changed where snapshot.files[path] == nil { documents[path] = nil }
        if let incremental = RepositoryReader.incremental(basis: basis, snapshot: snapshot, changed: changed, documents: parsed.merging(siteDocuments(changed, snapshot)) { new, _ in new }) {
            counters.incrementalLoads += 1
            self.basis = incremental.basis
            return Update(result: incremental.basis.result, changedPaths: changed, affectedSites: incremental.affectedSites, incremental: true)
        }
        return Update(result: fullLoad(snapshot), changedPaths: changed, affectedSites: nil, incremental: false)
    }

    /// Cached documents of the site directories a change touches (their unchanged files are read again too).
    private func siteDocuments(_ changed: [String], _ snapshot: Snapshot) -> [String: ParsedDocument] {
        var result: [String: ParsedDocument] = [:]
        let directories = Set(changed.compactMap { path -> String? in
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count >= 3 && parts[0] == "sites" ? String(parts[1]) : nil
        })
        for directory in directories {
            for path in basis?.siteFiles[directory] ?? [] {
                if let file = snapshot.files[path], let cached = documents[path], cached.blob == file.blobID {
                    result[path] = cached.parsed
                }
            }
        }
        return result
    }

    private func fullLoad(_ snapshot: Snapshot) -> DesiredState.LoadResult {
        counters.fullLoads += 1
        var reuse: [String: ParsedDocument] = [:]
        var misses: [(path: String, file: Snapshot.File)] = []
        var kept: [String: (blob: ObjectID, parsed: ParsedDocument)] = [:]
        for (path, file) in snapshot.files where ParsedDocument.isRead(path) {
            guard let blob = file.blobID else { continue }
            if let cached = documents[path], cached.blob == blob {
                reuse[path] = cached.parsed
                kept[path] = cached
                counters.documentsReused += 1
            } else {
                misses.append((path, file))
            }
        }
        for (entry, document) in zip(misses, ParsedDocument.parseAll(misses)) {
            reuse[entry.path] = document
            kept[entry.path] = (entry.file.blobID!, document)
            counters.documentsParsed += 1
        }
        documents = kept
        var reader = RepositoryReader(snapshot: snapshot)
        reader.documents = reuse
        let result = reader.read()
        basis = LoadBasis(snapshot: snapshot, result: result)
        return result
    }

    /// Files whose blob id or mode differ between two snapshots (added and removed included), sorted.
    public static func changedPaths(from old: Snapshot, to new: Snapshot) -> [String] {
        if let a = old.trees[""], let b = new.trees[""], a == b { return [] }
        var changed: [String] = []
        for (path, file) in new.files {
            guard let previous = old.files[path], previous.blobID == file.blobID, previous.blobID != nil, previous.mode == file.mode else {
                changed.append(path)
                continue
            }
        }
        if old.files.count + changed.count != new.files.count {
            for path in old.files.keys where new.files[path] == nil { changed.append(path) }
        }
        return changed.sorted()
    }

    // MARK: Compiling

    /// The ids a site's compilation depends on in `state`; nil when the snapshot has no object ids.
    public static func inputs(of site: Site, in state: DesiredState) -> SiteInputs? {
        let snapshot = state.snapshot
        guard let directory = snapshot.trees["sites/\(site.name)"] else { return nil }
        var ids: [ObjectID?] = [directory]
        ids.reserveCapacity(1 + 2 * site.components.count + site.flows.count)
        for name in site.components {
            ids.append(snapshot.files["components/\(name).yaml"]?.blobID)
            ids.append(snapshot.trees["components/\(name)"])
        }
        for name in site.flows { ids.append(snapshot.files["flows/\(name).yaml"]?.blobID) }
        return SiteInputs(site: site.name, ids: ids)
    }

    /// Compiles a site, or returns the kept compilation when none of its inputs changed (with the commit id
    /// of `state`). When the site's directory is unchanged but some of its definitions changed, only those are
    /// compiled again: the rest are taken from the kept compilation. Equal to `state.compile(site:)`.
    public func compile(site: Site, in state: DesiredState) -> DesiredState.Compilation {
        guard let inputs = Self.inputs(of: site, in: state) else { return state.compile(site: site) }
        let (hit, reusable): (DesiredState.Compilation?, SiteCompiler.Reused?) = lock.withLock {
            guard let entry = compiled[site.name], entry.compilation.site.site == site else { return (nil, nil) }
            guard entry.inputs == inputs else { return (nil, Self.reusable(from: entry.compilation, inputs: entry.inputs, now: inputs)) }
            useClock += 1
            compiled[site.name]?.used = useClock
            counters.compilationsReused += 1
            return (entry.compilation, nil)
        }
        if var hit {
            hit.site.commitID = state.commitID
            return hit
        }
        let compilation = reusable.map { state.compile(site: site, reusing: $0) } ?? state.compile(site: site)
        lock.withLock {
            useClock += 1
            counters.compilations += 1
            counters.definitionsReused += reusable?.count ?? 0
            compiled[site.name] = (inputs, compilation, useClock)
            if compiled.count > compiledSiteLimit, let oldest = compiled.min(by: { $0.value.used < $1.value.used })?.key {
                compiled[oldest] = nil
            }
        }
        return compilation
    }

    /// The components and flows of a site's earlier compilation whose inputs are unchanged: the site's directory
    /// (its values and overrides) has the same id, and so have the definition and, for a component, its templates.
    /// Nil when nothing can be reused or when the earlier compilation reported anything (its diagnostics are not
    /// kept per definition, so it is compiled again whole).
    private static func reusable(from earlier: DesiredState.Compilation, inputs old: SiteInputs, now: SiteInputs) -> SiteCompiler.Reused? {
        let site = earlier.site.site
        guard earlier.diagnostics.isEmpty, old.ids.first == now.ids.first, old.ids.first != nil, old.ids.count == now.ids.count,
              Set(site.components).count == site.components.count, Set(site.flows).count == site.flows.count else { return nil }
        // A compiled site's resources are sorted by path: each file finds its component by its owner.
        var components: [String: [Resource]] = [:], flows: [String: Resource] = [:]
        for resource in earlier.site.resources {
            switch resource.kind {
            case .component:
                components[resource.name, default: []].insert(resource, at: 0)
            case .file:
                guard let owner = resource.owner, owner.hasPrefix("components/") else { return nil }
                components[String(owner.dropFirst("components/".count)), default: []].append(resource)
            case .flow:
                flows[resource.name] = resource
            }
        }
        var reused = SiteCompiler.Reused()
        for (index, name) in site.components.enumerated() {
            let blob = 1 + 2 * index, tree = blob + 1
            guard old.ids[blob] != nil, old.ids[blob] == now.ids[blob], old.ids[tree] == now.ids[tree],
                  let resources = components[name], resources.first?.kind == .component else { continue }
            reused.components[name] = resources
        }
        for (index, name) in site.flows.enumerated() {
            let blob = 1 + 2 * site.components.count + index
            guard old.ids[blob] != nil, old.ids[blob] == now.ids[blob], let resource = flows[name] else { continue }
            reused.flows[name] = resource
        }
        return reused.count == 0 ? nil : reused
    }
}
