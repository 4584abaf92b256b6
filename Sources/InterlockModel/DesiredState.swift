import Foundation
import HashTreeCollections
import InterlockGit

/// Everything a desired-state repository declares at one commit, parsed and cross-checked, ready to be
/// compiled for each site. Make one with `DesiredState.load(from:)`.
public struct DesiredState: Sendable {
    public var config: RepositoryConfig
    /// Sorted by name.
    public var sites: [Site]
    /// Component name → its definition document (`components/<name>.yaml`).
    var componentDocuments: TreeDictionary<String, YAMLNode>
    /// Flow name → its definition document (`flows/<name>.yaml`).
    var flowDocuments: TreeDictionary<String, YAMLNode>
    /// Site name → override documents keyed by the resource path they patch (`components/x`, `flows/y`).
    var overrides: [String: [String: YAMLNode]]
    /// The snapshot the state was read from (templates are read from it when compiling).
    public var snapshot: Snapshot
    /// Set when the state was read site by site: it then holds no definitions itself, and compiling a site reads
    /// that site's components, flows and overrides from the outline (see `DesiredStateOutline`).
    public internal(set) var outline: DesiredStateOutline? = nil

    public var componentNames: [String] { outline?.componentNames ?? componentDocuments.keys.sorted() }
    public var flowNames: [String] { outline?.flowNames ?? flowDocuments.keys.sorted() }
    public var commitID: String? { snapshot.commitID?.hex }

    public func site(named name: String) -> Site? { sites.first { $0.name == name } }

    /// Resource paths (`components/x`, `flows/y`) a site overrides.
    public func overriddenPaths(of site: String) -> [String] {
        if let outline { return outline.overriddenPaths(of: site) }
        return (overrides[site] ?? [:]).keys.sorted()
    }

    /// The result of reading a repository: the state (possibly partial) and every problem found.
    public struct LoadResult: Sendable {
        public var state: DesiredState
        public var diagnostics: [Diagnostic]
        public var isValid: Bool { !diagnostics.contains { $0.severity == .error } }
    }

    /// Reads and cross-checks the repository. Never throws: problems come back as diagnostics.
    /// The YAML files are parsed on all cores first; reading and cross-checking then run in path order.
    public static func load(from snapshot: Snapshot) -> LoadResult {
        let files = snapshot.files.filter { ParsedDocument.isRead($0.key) }.map { (path: $0.key, file: $0.value) }
        var documents: [String: ParsedDocument] = [:]
        documents.reserveCapacity(files.count)
        for (file, document) in zip(files, ParsedDocument.parseAll(files)) { documents[file.path] = document }
        return RepositoryReader(snapshot: snapshot, documents: documents).read()
    }
}

/// Reads a snapshot into a `DesiredState`, collecting diagnostics.
struct RepositoryReader {
    let snapshot: Snapshot
    let reader = FieldReader()
    /// Documents parsed earlier, by path (filled by `DesiredStateCache`); nil parses every file here.
    var documents: [String: ParsedDocument]? = nil
    /// Whether to leave the components, flows and overrides unread (their paths are still checked): a
    /// `DesiredStateOutline` reads them site by site.
    var defersDefinitions = false

    /// What `read()` left for a site-by-site reader when `defersDefinitions` is set.
    struct Deferred {
        /// Site name → the overrides it uses (their files are not parsed yet).
        var overrides: [String: [(resource: String, file: String)]] = [:]
        /// Names of `components/<name>.yaml` and `flows/<name>.yaml` files.
        var components = Set<String>()
        var flows = Set<String>()
    }

    func parse(_ path: String) -> YAMLNode? {
        if let parsed = documents?[path] {
            parsed.diagnostics.forEach { reader.diagnostics.append($0) }
            return parsed.node
        }
        guard let data = snapshot.content(at: path) else { return nil }
        return YAMLDocument.parse(data, file: path, diagnostics: &reader.diagnostics)
    }

    func read() -> DesiredState.LoadResult { readDeferring().result }

    func readDeferring() -> (result: DesiredState.LoadResult, deferred: Deferred) {
        var deferred = Deferred()
        var config = RepositoryConfig()
        if snapshot.files[RepositoryConfig.fileName] == nil {
            reader.diagnostics.error(
                "missing-repository-config", at: SourceLocation(file: RepositoryConfig.fileName),
                "this is not an Interlock repository: there is no interlock.yaml at its root",
                hint: "point --repo at the desired-state repository, or create interlock.yaml with 'apiVersion: \(RepositoryConfig.supportedAPIVersion)'")
        } else if let node = parse(RepositoryConfig.fileName) {
            config = RepositoryConfig.read(node, reader: reader)
        }

        var siteFiles: [String: String] = [:]
        var siteDirectories = Set<String>()
        var components: TreeDictionary<String, YAMLNode> = [:]
        var flows: TreeDictionary<String, YAMLNode> = [:]
        var overrideFiles: [(site: String, resource: String, file: String)] = []
        var templateDirectories = Set<String>()

        var definedComponents = Set<String>(), definedFlows = Set<String>()
        // In no particular order: what is collected is sorted below, and so are the diagnostics.
        for (path, file) in snapshot.files {
            guard let top = Self.topDirectory(of: path) else { continue }
            if !file.pathIsValidUTF8 {
                reader.diagnostics.error(
                    "path-not-utf8", at: SourceLocation(file: path), "the file name is not valid UTF-8",
                    hint: "rename it using UTF-8 (ASCII letters, digits, '-', '_' and '.' are safest)")
                if let name = Self.definitionName(path, in: top) { top == .components ? definedComponents.insert(name) : definedFlows.insert(name) }
                continue
            }
            if let name = Self.definitionName(path, in: top) {
                // The common case, `components/<name>.yaml` or `flows/<name>.yaml`, without splitting the path.
                if top == .components {
                    definedComponents.insert(name)
                    if !defersDefinitions, let node = parse(path) { components[name] = node }
                } else {
                    definedFlows.insert(name)
                    if !defersDefinitions, let node = parse(path) { flows[name] = node }
                }
                checkDefinitionName(name, path: path)
                continue
            }
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            switch parts[0] {
            case "sites" where parts.count >= 3:
                siteDirectories.insert(parts[1])
                if parts.count == 3, parts[2] == "site.yaml" {
                    siteFiles[parts[1]] = path
                } else if parts.count == 5, parts[2] == "overrides", ["components", "flows"].contains(parts[3]), parts[4].hasSuffix(".yaml") {
                    overrideFiles.append((parts[1], "\(parts[3])/\(parts[4].dropLast(5))", path))
                } else if parts.count == 3, parts[2] == "site.yml" {
                    misnamed(path, "site.yaml")
                } else {
                    reader.diagnostics.append(Diagnostic(
                        "unexpected-file", at: SourceLocation(file: path), "this file is not part of the repository format and is ignored",
                        hint: "site directories hold site.yaml and overrides/components/<name>.yaml or overrides/flows/<name>.yaml", severity: .warning))
                }
            case "components" where parts.count > 2:
                templateDirectories.insert(parts[1])
            case "components", "flows":
                if path.hasSuffix(".yml") {
                    misnamed(path, String(parts.last!.dropLast(4)) + ".yaml")
                } else {
                    reader.diagnostics.append(Diagnostic(
                        "unexpected-file", at: SourceLocation(file: path), "this file is not part of the repository format and is ignored",
                        hint: "definitions are \(parts[0])/<name>.yaml", severity: .warning))
                }
            default:
                break
            }
        }
        overrideFiles.sort { $0.file < $1.file }
        deferred.components = definedComponents
        deferred.flows = definedFlows
        for directory in templateDirectories.sorted() where !definedComponents.contains(directory) {
            reader.diagnostics.append(Diagnostic(
                "orphan-templates", at: SourceLocation(file: "components/\(directory)/"),
                "template directory without a components/\(directory).yaml", hint: "add the component or remove the directory",
                severity: .warning))
        }

        var sites: [Site] = []
        for directory in siteDirectories.sorted() {
            guard let file = siteFiles[directory] else {
                reader.diagnostics.error(
                    "missing-site-file", at: SourceLocation(file: "sites/\(directory)/site.yaml"),
                    "the site directory sites/\(directory)/ has no site.yaml", hint: "add sites/\(directory)/site.yaml or remove the directory")
                continue
            }
            guard let node = parse(file), let site = Site.read(node, directory: directory, file: file, reader: reader) else { continue }
            for (index, name) in site.components.enumerated() where components[name] == nil && !definedComponents.contains(name) {
                unknownReference(kind: "component", name: name, known: definedComponents.sorted(), site: site, field: "components[\(index)]", node: node["components"])
            }
            for (index, name) in site.flows.enumerated() where !definedFlows.contains(name) {
                unknownReference(kind: "flow", name: name, known: definedFlows.sorted(), site: site, field: "flows[\(index)]", node: node["flows"])
            }
            sites.append(site)
        }

        var overrides: [String: [String: YAMLNode]] = [:]
        let sitesByName = Dictionary(sites.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for entry in overrideFiles {
            guard let site = sitesByName[entry.site] else { continue }
            let name = String(entry.resource.split(separator: "/")[1])
            let runs = entry.resource.hasPrefix("components/") ? site.components.contains(name) : site.flows.contains(name)
            guard runs else {
                let kind = entry.resource.hasPrefix("components/") ? "component" : "flow"
                reader.diagnostics.error(
                    "override-not-used", at: SourceLocation(file: entry.file),
                    "site \(site.name) overrides the \(kind) '\(name)' but does not run it",
                    hint: "add '\(name)' to '\(kind)s' in \(site.file), or delete this override")
                continue
            }
            if defersDefinitions {
                deferred.overrides[site.name, default: []].append((entry.resource, entry.file))
                continue
            }
            guard let node = parse(entry.file) else { continue }
            guard node.pairs != nil else {
                reader.diagnostics.append(Self.overrideNotAMap(node))
                continue
            }
            overrides[site.name, default: [:]][entry.resource] = node
        }

        checkWaves(config: config, sites: sites)

        let state = DesiredState(
            config: config, sites: sites, componentDocuments: components, flowDocuments: flows,
            overrides: overrides, snapshot: snapshot)
        return (DesiredState.LoadResult(state: state, diagnostics: reader.diagnostics.sorted), deferred)
    }

    /// The problem of an override file that is not a map.
    static func overrideNotAMap(_ node: YAMLNode) -> Diagnostic {
        Diagnostic("wrong-type", at: node.location, "an override must be a map (a JSON merge patch)", hint: "write the fields to change as 'key: value' lines")
    }

    enum TopDirectory { case sites, components, flows }

    /// The format's directory a path is in; nil for files outside `sites/`, `components/` and `flows/`.
    static func topDirectory(of path: String) -> TopDirectory? {
        if path.hasPrefix("components/") || path == "components" { return .components }
        if path.hasPrefix("sites/") || path == "sites" { return .sites }
        if path.hasPrefix("flows/") || path == "flows" { return .flows }
        return nil
    }

    /// `<name>` of `components/<name>.yaml` or `flows/<name>.yaml`; nil for any other path.
    static func definitionName(_ path: String, in top: TopDirectory) -> String? {
        guard top != .sites, path.hasSuffix(".yaml") else { return nil }
        let name = path.utf8.dropFirst(top == .components ? 11 : 6).dropLast(5)
        guard !name.contains(UInt8(ascii: "/")) else { return nil }
        return String(Substring(name))
    }

    private func misnamed(_ path: String, _ expected: String) {
        reader.diagnostics.error(
            "wrong-extension", at: SourceLocation(file: path), "Interlock reads '.yaml' files only; this file is ignored",
            hint: "rename it to \(expected)")
    }

    func checkDefinitionName(_ name: String, path: String) {
        Site.checkIdentifier(name, at: SourceLocation(file: path), field: "", what: "definition name (from the file name)", reader: reader)
    }

    private func unknownReference(kind: String, name: String, known: [String], site: Site, field: String, node: YAMLNode?) {
        let location = node?.items?.first { $0.scalar?.text == name }?.location ?? node?.location ?? SourceLocation(file: site.file)
        var hint = "add \(kind)s/\(name).yaml, or remove it from the site"
        if let guess = Spelling.closest(to: name, in: known) { hint = "did you mean '\(guess)'? (or add \(kind)s/\(name).yaml)" }
        reader.diagnostics.error("unknown-\(kind)", at: location, field: field, "site \(site.name) runs the unknown \(kind) '\(name)'", hint: hint)
    }

    func checkWaves(config: RepositoryConfig, sites: [Site]) {
        let known = Set(sites.map(\.name))
        var waveOf: [String: String] = [:]
        let file = RepositoryConfig.fileName
        for (index, wave) in config.waves.enumerated() {
            for site in wave.sites {
                if !known.contains(site) {
                    var hint = "known sites: \(known.sorted().joined(separator: ", "))"
                    if let guess = Spelling.closest(to: site, in: known.sorted()) { hint = "did you mean '\(guess)'? (\(hint))" }
                    reader.diagnostics.error("unknown-site", at: wave.location, field: "rollout.waves[\(index)].sites", "wave '\(wave.name)' names the unknown site '\(site)'", hint: hint)
                } else if let other = waveOf[site] {
                    reader.diagnostics.error(
                        "site-in-two-waves", at: wave.location, field: "rollout.waves[\(index)].sites",
                        "site '\(site)' is in wave '\(other)' and in wave '\(wave.name)'", hint: "keep each site in exactly one wave")
                } else {
                    waveOf[site] = wave.name
                }
            }
        }
        guard config.wavesDeclared else { return }
        for site in sites where waveOf[site.name] == nil {
            reader.diagnostics.error(
                "site-in-no-wave", at: SourceLocation(file: file), field: "rollout.waves",
                "site '\(site.name)' is in no rollout wave, so no change would ever reach it", hint: "add it to one wave in \(file)")
        }
    }
}
