import Foundation
import InterlockGit

/// The desired state read for working through the sites one at a time, so that memory follows one site rather
/// than the whole repository.
///
/// An outline holds every path and object id of the commit, `interlock.yaml` and every `site.yaml` read and
/// cross-checked (file layout, names, references, overrides that are not used, rollout waves), but no component,
/// flow or override: `part(for:)` reads those of one site, from the repository, when the site is worked on, and
/// the caller drops them when done. Definitions that several sites run are parsed once and kept (up to
/// `sharedDocumentLimit`). For each site, `compile(_:)` (or `state.compile(site:)`) gives what
/// `DesiredState.load(from:)` and `compile(site:)` give for the whole snapshot, and `validate()` reports the same
/// problems as `DesiredState.validate(_:)`. `updated(to:changed:)` follows a later commit reading only what it
/// touches, which is how `DesiredStateCache(bySite:)` serves a reconcile loop. On a 1,000-site repository of
/// 119,000 files this keeps a fleet-wide plan within about 200 MB instead of 2 GB. Safe to share between threads.
public final class DesiredStateOutline: @unchecked Sendable {
    /// Reads the content of outline files: from the git repository the outline was read from, or nothing to do
    /// for a snapshot that holds every file already.
    public typealias ContentLoader = @Sendable (_ paths: [String], _ snapshot: inout Snapshot) throws -> Void

    /// At most this many parsed documents of definitions run by more than one site are kept.
    public static let sharedDocumentLimit = 4096

    /// The outline as read: the state without definitions, what was deferred, and the indexes an update uses.
    let basis: LoadBasis
    /// Names of the `components/<name>.yaml` and `flows/<name>.yaml` files, sorted.
    public let componentNames: [String]
    public let flowNames: [String]
    /// Component name → the paths of its template files (`components/<name>/…`).
    private let templates: [String: [String]]
    private let loader: ContentLoader
    private let shared: SharedDocuments

    public var config: RepositoryConfig { basis.result.state.config }
    /// Sorted by name.
    public var sites: [Site] { basis.result.state.sites }
    /// Problems found reading the outline: the layout of files, `interlock.yaml`, each `site.yaml`, references to
    /// definitions that do not exist, overrides of what a site does not run, rollout waves — and, when
    /// `checksDefinitions`, the YAML problems of every definition and override. Otherwise each site's definitions
    /// and overrides are checked by `part(for:)`.
    public var diagnostics: [Diagnostic] { basis.result.diagnostics }
    /// Every path and id; the content only of `interlock.yaml`, the `site.yaml` files and files read by updates.
    public var snapshot: Snapshot { basis.snapshot }
    public var commitID: String? { snapshot.commitID?.hex }
    public var isValid: Bool { !diagnostics.contains { $0.severity == .error } }
    public func site(named name: String) -> Site? { basis.result.state.site(named: name) }

    /// The outline as a `DesiredState`: it compiles each site by reading that site's part.
    public var state: DesiredState {
        var state = basis.result.state
        state.outline = self
        return state
    }

    /// The outline as the result of a load: the state and the repository-wide problems.
    public var loadResult: DesiredState.LoadResult { DesiredState.LoadResult(state: state, diagnostics: diagnostics) }

    /// Resource paths (`components/x`, `flows/y`) a site overrides.
    public func overriddenPaths(of site: String) -> [String] {
        (basis.deferred?.overrides[site] ?? []).map(\.resource).sorted()
    }

    /// Reads the outline of `snapshot`, taking file contents through `loader` as sites need them.
    ///
    /// With `checkingDefinitions`, every component, flow and used override is also parsed once, up front, and its
    /// YAML problems are part of `diagnostics` (the parsed documents are dropped as they go), so the outline reports
    /// what `DesiredState.load(from:)` reports: a reconcile loop refuses a commit with a broken definition as a
    /// whole. Without it, those problems surface when a site that uses the file compiles.
    public convenience init(_ snapshot: Snapshot, checkingDefinitions: Bool = false, loader: @escaping ContentLoader) {
        var reader = RepositoryReader(snapshot: snapshot)
        reader.defersDefinitions = true
        var (result, deferred) = reader.readDeferring()
        if checkingDefinitions {
            let definitions = deferred.components.map { "components/\($0).yaml" } + deferred.flows.map { "flows/\($0).yaml" }
            let overrides = deferred.overrides.values.flatMap { $0.map(\.file) }
            let paths = (definitions + overrides).filter { snapshot.files[$0]?.pathIsValidUTF8 == true }
            var all = Diagnostics()
            (result.diagnostics + Self.check(paths, in: snapshot, loader: loader)).forEach { all.append($0) }
            result.diagnostics = all.sorted
        }
        var templates: [String: [String]] = [:]
        for path in snapshot.files.keys where path.hasPrefix("components/") {
            let rest = path.utf8.dropFirst("components/".utf8.count)
            guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { continue }
            templates[String(Substring(path.utf8[rest.startIndex..<slash])), default: []].append(path)
        }
        self.init(
            basis: LoadBasis(snapshot: snapshot, result: result, deferred: deferred),
            componentNames: deferred.components.sorted(), flowNames: deferred.flows.sorted(), templates: templates,
            loader: loader, shared: SharedDocuments(), checksDefinitions: checkingDefinitions)
    }

    private init(
        basis: LoadBasis, componentNames: [String], flowNames: [String], templates: [String: [String]], loader: @escaping ContentLoader,
        shared: SharedDocuments, checksDefinitions: Bool
    ) {
        self.basis = basis
        self.componentNames = componentNames
        self.flowNames = flowNames
        self.templates = templates
        self.loader = loader
        self.shared = shared
        self.checksDefinitions = checksDefinitions
    }

    /// Whether definitions and overrides are parsed up front (see `init(_:checkingDefinitions:loader:)`).
    public let checksDefinitions: Bool

    /// The YAML problems of definition and override files (an override must also be a map), read through `loader`
    /// a few hundred at a time and parsed on all cores; nothing parsed is kept.
    static func check(_ paths: [String], in snapshot: Snapshot, loader: ContentLoader) -> [Diagnostic] {
        let chunks = stride(from: 0, to: paths.count, by: 256).map { Array(paths[$0..<min($0 + 256, paths.count)]) }
        let results = ParallelMap.map(chunks) { chunk -> [Diagnostic] in
            var loaded = snapshot
            do {
                try loader(chunk, &loaded)
            } catch {
                return [unreadable("the file", at: chunk[0], error)]
            }
            var found: [Diagnostic] = []
            for path in chunk {
                guard let content = loaded.content(at: path) else { continue }
                let parsed = ParsedDocument(content, file: path)
                found += parsed.diagnostics
                if path.hasPrefix("sites/"), let node = parsed.node, node.pairs == nil {
                    found.append(RepositoryReader.overrideNotAMap(node))
                }
            }
            return found
        }
        return results.flatMap { $0 }
    }

    /// An outline of a snapshot that already holds every file (a working tree, or a snapshot read in full).
    public convenience init(_ snapshot: Snapshot) {
        self.init(snapshot) { paths, snapshot in
            guard let missing = paths.first(where: { snapshot.files[$0]?.isLoaded == false }) else { return }
            throw OutlineError(path: missing)
        }
    }

    /// Reads the outline of a commit from `repository`: the trees, `interlock.yaml` and the `site.yaml` files. The
    /// repository stays open (owned by the outline) to read each site's files; reads are serialised.
    public static func read(_ repository: Repository, commit: ObjectID) throws -> DesiredStateOutline {
        let snapshot = try repository.outline(of: commit, loading: isReadUpFront)
        let source = LockedRepository(repository)
        return DesiredStateOutline(snapshot) { paths, snapshot in try source.loadContent(of: paths, in: &snapshot) }
    }

    /// The files an outline reads when it is made: `interlock.yaml` and the site files.
    public static func isReadUpFront(_ path: String) -> Bool {
        path == RepositoryConfig.fileName || (path.hasPrefix("sites/") && path.hasSuffix("/site.yaml"))
    }

    /// The outline of `snapshot`, a later commit of the same repository (from `Repository.snapshotUpdate` on this
    /// outline's snapshot, so that files it changed are loaded), and the sites whose compile inputs changed.
    /// Reads only what `changed` touches when the change stays inside the sites and the text of existing
    /// definitions; otherwise reads the outline of `snapshot` afresh (affected sites nil: all of them).
    public func updated(to snapshot: Snapshot, changed: [String]) -> (outline: DesiredStateOutline, affectedSites: [String]?) {
        guard !changed.isEmpty else {
            var basis = self.basis
            basis.snapshot = snapshot
            basis.result.state.snapshot = snapshot
            return (with(basis), [])
        }
        var loaded = snapshot
        if var incremental = RepositoryReader.incremental(basis: basis, snapshot: snapshot, changed: changed, documents: [:]),
           changed.allSatisfy({ snapshot.files[$0]?.isLoaded != false || !Self.isReadUpFront($0) }) {
            if checksDefinitions {
                // The changed definitions, and the overrides of the sites read again, are checked as a full read
                // checks them (their earlier problems were dropped with the rest of those files' diagnostics).
                let changedSites = Set(changed.compactMap { $0.hasPrefix("sites/") ? $0.split(separator: "/").dropFirst().first.map(String.init) : nil })
                var paths = changed.filter { ($0.hasPrefix("components/") || $0.hasPrefix("flows/")) && ParsedDocument.isRead($0) && snapshot.files[$0] != nil }
                for site in changedSites.sorted() { paths += (incremental.basis.deferred?.overrides[site] ?? []).map(\.file) }
                var all = Diagnostics()
                (incremental.basis.result.diagnostics + Self.check(paths, in: snapshot, loader: loader)).forEach { all.append($0) }
                incremental.basis.result.diagnostics = all.sorted
            }
            return (with(incremental.basis), incremental.affectedSites)
        }
        // Site files the new snapshot has not loaded (it came from an outline without them) are read first.
        let missing = loaded.files.filter { Self.isReadUpFront($0.key) && !$0.value.isLoaded }.map(\.key)
        if !missing.isEmpty, (try? loader(missing, &loaded)) == nil { loaded = snapshot }
        let fresh = DesiredStateOutline(loaded, checkingDefinitions: checksDefinitions, loader: loader)
        return (DesiredStateOutline(
            basis: fresh.basis, componentNames: fresh.componentNames, flowNames: fresh.flowNames, templates: fresh.templates,
            loader: loader, shared: shared, checksDefinitions: checksDefinitions), nil)
    }

    private func with(_ basis: LoadBasis) -> DesiredStateOutline {
        DesiredStateOutline(
            basis: basis, componentNames: componentNames, flowNames: flowNames, templates: templates, loader: loader, shared: shared,
            checksDefinitions: checksDefinitions)
    }

    /// One site's part of the desired state: its components, flows and overrides read, ready to compile.
    public struct Part: Sendable {
        /// The state holding this site's definitions only; `state.compile(site:)` compiles it.
        public var state: DesiredState
        /// Problems in the site's definitions and overrides (those of a definition that several sites run are
        /// reported by each).
        public var diagnostics: [Diagnostic]
    }

    /// Reads what `site` compiles from: each component and flow it runs (with a component's templates) and its
    /// overrides. Throws when the repository cannot be read.
    public func part(for site: Site) throws -> Part {
        try part(for: site, skipping: SiteCompiler.Reused())
    }

    /// Reads a site's part without the components and flows in `skipping` (compiled already).
    func part(for site: Site, skipping reused: SiteCompiler.Reused) throws -> Part {
        let components = site.components.filter { reused.components[$0] == nil }
        let flows = site.flows.filter { reused.flows[$0] == nil }
        let patched = Set(components.map { "components/\($0)" } + flows.map { "flows/\($0)" })
        let siteOverrides = (basis.deferred?.overrides[site.name] ?? []).filter { patched.contains($0.resource) }
        var paths: [String] = []
        for name in components {
            paths.append("components/\(name).yaml")
            paths.append(contentsOf: templates[name] ?? [])
        }
        for name in flows { paths.append("flows/\(name).yaml") }
        paths.append(contentsOf: siteOverrides.map(\.file))

        var snapshot = self.snapshot
        var documents: [String: ParsedDocument] = [:]
        for path in paths where ParsedDocument.isRead(path) {
            if let blob = snapshot.files[path]?.blobID, let document = shared.document(path, blob: blob) { documents[path] = document }
        }
        try loader(paths.filter { documents[$0] == nil }, &snapshot)
        for path in paths where documents[path] == nil && ParsedDocument.isRead(path) {
            guard let file = snapshot.files[path], file.isLoaded else { continue }
            let document = ParsedDocument(file.content, file: path)
            documents[path] = document
            if let blob = file.blobID, (basis.runners[String(path.dropLast(5))]?.count ?? 0) > 1 { shared.keep(path, blob: blob, document) }
        }
        var reader = RepositoryReader(snapshot: snapshot)
        reader.documents = documents

        var componentDocuments: [String: YAMLNode] = [:], flowDocuments: [String: YAMLNode] = [:]
        for name in components where componentDocuments[name] == nil {
            if let node = reader.parse("components/\(name).yaml") { componentDocuments[name] = node }
        }
        for name in flows where flowDocuments[name] == nil {
            if let node = reader.parse("flows/\(name).yaml") { flowDocuments[name] = node }
        }
        var patches: [String: YAMLNode] = [:]
        for entry in siteOverrides {
            guard let node = reader.parse(entry.file) else { continue }
            guard node.pairs != nil else {
                reader.reader.diagnostics.append(RepositoryReader.overrideNotAMap(node))
                continue
            }
            patches[entry.resource] = node
        }
        let state = DesiredState(
            config: config, sites: [site], componentDocuments: .init(componentDocuments), flowDocuments: .init(flowDocuments),
            overrides: patches.isEmpty ? [:] : [site.name: patches], snapshot: snapshot)
        return Part(state: state, diagnostics: reader.reader.diagnostics.all)
    }

    /// One site read and compiled, with every problem of its part and its compilation.
    public func compile(_ site: Site) throws -> DesiredState.Compilation {
        try compile(site, reusing: SiteCompiler.Reused())
    }

    func compile(_ site: Site, reusing reused: SiteCompiler.Reused) throws -> DesiredState.Compilation {
        let part = try part(for: site, skipping: reused)
        var compilation = part.state.compile(site: site, reusing: reused)
        compilation.diagnostics = part.diagnostics + compilation.diagnostics
        return compilation
    }

    /// Compiles a site, reporting a repository that cannot be read as a problem of the site.
    func compileReporting(_ site: Site, reusing reused: SiteCompiler.Reused) -> DesiredState.Compilation {
        do {
            return try compile(site, reusing: reused)
        } catch {
            return DesiredState.Compilation(
                site: CompiledSite(site: site, commitID: commitID, resources: []),
                diagnostics: [Self.unreadable("the files site \(site.name) compiles from", at: site.file, error)])
        }
    }

    /// The problem reported when `what` could not be read from the repository, at `file`.
    static func unreadable(_ what: String, at file: String, _ error: any Error) -> Diagnostic {
        Diagnostic(
            "repository-unreadable", at: SourceLocation(file: file), "\(what) could not be read from the repository: \(error)",
            hint: "check the repository (git fsck) and run the command again")
    }

    /// Problems of the definitions that no site runs (they are read one at a time, on all cores).
    public func unusedDefinitionDiagnostics() throws -> [Diagnostic] {
        let unused = (componentNames.map { "components/\($0).yaml" } + flowNames.map { "flows/\($0).yaml" }).filter {
            (basis.runners[String($0.dropLast(5))]?.isEmpty ?? true) && snapshot.files[$0]?.pathIsValidUTF8 == true
        }
        let results = ParallelMap.map(unused) { path -> Result<[Diagnostic], any Error> in
            Result {
                var snapshot = self.snapshot
                try self.loader([path], &snapshot)
                guard let content = snapshot.content(at: path) else { return [] }
                let parsed = ParsedDocument(content, file: path)
                guard let node = parsed.node else { return parsed.diagnostics }
                let reader = FieldReader()
                let name = String(path.split(separator: "/")[1].dropLast(5))
                DesiredState.checkUnusedDefinition(name, node, isComponent: path.hasPrefix("components/"), reader: reader)
                return parsed.diagnostics + reader.diagnostics.all
            }
        }
        return try results.flatMap { try $0.get() }
    }

    /// Every problem of the repository, as `interlock validate` reports it, with the number of resources each
    /// site compiles to; equal to `DesiredState.validate(_:)` on the full snapshot. Sites are compiled on all
    /// cores and dropped as soon as they are counted.
    public func validate() throws -> (sites: [(name: String, resources: Int, fingerprint: String)], diagnostics: [Diagnostic]) {
        var all = Diagnostics()
        diagnostics.forEach { all.append($0) }
        let results = ParallelMap.map(sites) { site in
            Result { () -> (String, Int, String, [Diagnostic]) in
                let compilation = try self.compile(site)
                return (site.name, compilation.site.resources.count, compilation.site.fingerprint, compilation.diagnostics)
            }
        }
        var counted: [(name: String, resources: Int, fingerprint: String)] = []
        for result in results {
            let (name, resources, fingerprint, problems) = try result.get()
            problems.forEach { all.append($0) }
            counted.append((name, resources, fingerprint))
        }
        try unusedDefinitionDiagnostics().forEach { all.append($0) }
        return (counted, all.sorted)
    }
}

/// Parsed documents of definitions that several sites run, by path and blob id, shared by the successive outlines
/// of one repository.
private final class SharedDocuments: @unchecked Sendable {
    private let lock = NSLock()
    private var documents: [String: (blob: ObjectID, document: ParsedDocument)] = [:]

    func document(_ path: String, blob: ObjectID) -> ParsedDocument? {
        lock.withLock { documents[path].flatMap { $0.blob == blob ? $0.document : nil } }
    }

    func keep(_ path: String, blob: ObjectID, _ document: ParsedDocument) {
        lock.withLock {
            if documents[path] != nil || documents.count < DesiredStateOutline.sharedDocumentLimit { documents[path] = (blob, document) }
        }
    }
}

/// A file an outline needed but that was neither loaded nor loadable.
public struct OutlineError: Error, CustomStringConvertible {
    public var path: String
    public var description: String { "the content of \(path) is not loaded and there is no repository to read it from" }
}

/// A repository shared by the workers of an outline; libgit2 handles are not shared between threads, so reads
/// take turns.
private final class LockedRepository: @unchecked Sendable {
    private let repository: Repository
    private let lock = NSLock()

    init(_ repository: Repository) { self.repository = repository }

    func loadContent(of paths: [String], in snapshot: inout Snapshot) throws {
        try lock.withLock { try repository.loadContent(of: paths, in: &snapshot) }
    }
}
