import Foundation
import InterlockGit

/// The desired state read for working through the sites one at a time, so that memory follows one site rather
/// than the whole repository.
///
/// An outline holds every path and object id of the commit, `interlock.yaml` and every `site.yaml` read and
/// cross-checked (file layout, names, references, overrides that are not used, rollout waves), but no component,
/// flow or override: `part(for:)` reads those of one site, from the repository, when the site is worked on, and
/// the caller drops them when done. Definitions that several sites run are parsed once and kept (up to
/// `sharedDocumentLimit`). For each site, `part(for:)` followed by `compile(site:)` gives what
/// `DesiredState.load(from:)` and `compile(site:)` give for the whole snapshot, and `validate()` reports the same
/// problems as `DesiredState.validate(_:)`. On a 1,000-site repository of 119,000 files this keeps a fleet-wide
/// plan within 300 MB instead of 2 GB. Safe to share between threads.
public final class DesiredStateOutline: @unchecked Sendable {
    /// Reads the content of outline files: from the git repository the outline was read from, or nothing to do
    /// for a snapshot that holds every file already.
    public typealias ContentLoader = @Sendable (_ paths: [String], _ snapshot: inout Snapshot) throws -> Void

    /// At most this many parsed documents of definitions run by more than one site are kept.
    public static let sharedDocumentLimit = 4096

    public let config: RepositoryConfig
    /// Sorted by name.
    public let sites: [Site]
    /// Problems found reading the outline: the layout of files, `interlock.yaml`, each `site.yaml`, references to
    /// definitions that do not exist, overrides of what a site does not run, rollout waves. Each site's
    /// definitions and overrides are checked by `part(for:)`.
    public let diagnostics: [Diagnostic]
    /// Every path and id; the content only of `interlock.yaml` and the `site.yaml` files.
    public let snapshot: Snapshot
    /// Names of the `components/<name>.yaml` and `flows/<name>.yaml` files, sorted.
    public let componentNames: [String]
    public let flowNames: [String]

    private let overrides: [String: [(resource: String, file: String)]]
    /// Component name → the paths of its template files (`components/<name>/…`).
    private let templates: [String: [String]]
    /// Definition file → how many sites run it.
    private let runners: [String: Int]
    private let loader: ContentLoader
    private let lock = NSLock()
    private var shared: [String: ParsedDocument] = [:]

    public var commitID: String? { snapshot.commitID?.hex }
    public var isValid: Bool { !diagnostics.contains { $0.severity == .error } }
    public func site(named name: String) -> Site? { sites.first { $0.name == name } }

    /// Reads the outline of `snapshot`, taking file contents through `loader` as sites need them.
    public init(_ snapshot: Snapshot, loader: @escaping ContentLoader) {
        var reader = RepositoryReader(snapshot: snapshot)
        reader.defersDefinitions = true
        let (result, deferred) = reader.readDeferring()
        config = result.state.config
        sites = result.state.sites
        diagnostics = result.diagnostics
        self.snapshot = snapshot
        componentNames = deferred.components.sorted()
        flowNames = deferred.flows.sorted()
        overrides = deferred.overrides
        var templates: [String: [String]] = [:]
        for path in snapshot.files.keys where path.hasPrefix("components/") {
            let rest = path.utf8.dropFirst("components/".utf8.count)
            guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { continue }
            templates[String(Substring(path.utf8[rest.startIndex..<slash])), default: []].append(path)
        }
        self.templates = templates
        var runners: [String: Int] = [:]
        for site in result.state.sites {
            for name in Set(site.components) { runners["components/\(name).yaml", default: 0] += 1 }
            for name in Set(site.flows) { runners["flows/\(name).yaml", default: 0] += 1 }
        }
        self.runners = runners
        self.loader = loader
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
        let snapshot = try repository.outline(of: commit) { path in
            path == RepositoryConfig.fileName || (path.hasPrefix("sites/") && path.hasSuffix("/site.yaml"))
        }
        let source = LockedRepository(repository)
        return DesiredStateOutline(snapshot) { paths, snapshot in try source.loadContent(of: paths, in: &snapshot) }
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
        var paths: [String] = []
        for name in site.components {
            paths.append("components/\(name).yaml")
            paths.append(contentsOf: templates[name] ?? [])
        }
        for name in site.flows { paths.append("flows/\(name).yaml") }
        let siteOverrides = overrides[site.name] ?? []
        paths.append(contentsOf: siteOverrides.map(\.file))

        var snapshot = self.snapshot
        let sharedDocuments = lock.withLock { shared }
        try loader(paths.filter { sharedDocuments[$0] == nil }, &snapshot)

        var reader = RepositoryReader(snapshot: snapshot)
        var documents: [String: ParsedDocument] = [:]
        for path in paths where path.hasSuffix(".yaml") && ParsedDocument.isRead(path) {
            if let document = sharedDocuments[path] {
                documents[path] = document
            } else if let content = snapshot.content(at: path) {
                let document = ParsedDocument(content, file: path)
                documents[path] = document
                if runners[path, default: 0] > 1 { keepShared(path, document) }
            }
        }
        reader.documents = documents

        var components: [String: YAMLNode] = [:], flows: [String: YAMLNode] = [:]
        for name in site.components where components[name] == nil {
            if let node = reader.parse("components/\(name).yaml") { components[name] = node }
        }
        for name in site.flows where flows[name] == nil {
            if let node = reader.parse("flows/\(name).yaml") { flows[name] = node }
        }
        var patches: [String: YAMLNode] = [:]
        for entry in siteOverrides {
            guard let node = reader.parse(entry.file) else { continue }
            guard node.pairs != nil else {
                reader.reader.diagnostics.error("wrong-type", at: node.location, "an override must be a map (a JSON merge patch)", hint: "write the fields to change as 'key: value' lines")
                continue
            }
            patches[entry.resource] = node
        }
        let state = DesiredState(
            config: config, sites: [site], componentDocuments: .init(components), flowDocuments: .init(flows),
            overrides: patches.isEmpty ? [:] : [site.name: patches], snapshot: snapshot)
        return Part(state: state, diagnostics: reader.reader.diagnostics.all)
    }

    private func keepShared(_ path: String, _ document: ParsedDocument) {
        lock.withLock {
            if shared.count < Self.sharedDocumentLimit { shared[path] = document }
        }
    }

    /// One site read and compiled, with every problem of its part and its compilation.
    public func compile(_ site: Site) throws -> DesiredState.Compilation {
        let part = try part(for: site)
        var compilation = part.state.compile(site: site)
        compilation.diagnostics = part.diagnostics + compilation.diagnostics
        return compilation
    }

    /// Problems of the definitions that no site runs (they are read one at a time, on all cores).
    public func unusedDefinitionDiagnostics() throws -> [Diagnostic] {
        let used = Set(runners.keys)
        let unused = (componentNames.map { "components/\($0).yaml" } + flowNames.map { "flows/\($0).yaml" }).filter { !used.contains($0) }
        let results = ParallelMap.map(unused) { path -> Result<[Diagnostic], any Error> in
            Result {
                var snapshot = self.snapshot
                try self.loader([path], &snapshot)
                guard let content = snapshot.content(at: path) else { return [] }
                let parsed = ParsedDocument(content, file: path)
                guard let node = parsed.node else { return parsed.diagnostics }
                let reader = FieldReader()
                let name = String(path.split(separator: "/")[1].dropLast(5))
                if path.hasPrefix("components/") {
                    _ = Component.read(node, expectedName: name, config: node["config"]?.value ?? .object([:]), reader: reader)
                } else {
                    _ = Flow.read(node, expectedName: name, reader: reader)
                }
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
