import Foundation
import InterlockGit

/// What a previous load left behind for the next one to build on.
struct LoadBasis: Sendable {
    var snapshot: Snapshot
    var result: DesiredState.LoadResult
    /// Names of `components/<name>.yaml` files.
    var definedComponents: Set<String>
    /// Site directory name → paths of the files below `sites/<name>/`.
    var siteFiles: [String: Set<String>]
    /// `components/<name>` or `flows/<name>` → the sites that run it, so a changed definition finds its
    /// sites without scanning every site.
    var runners: [String: Set<String>]
    /// For a state read site by site (`DesiredStateOutline`): what the reader left unread.
    var deferred: RepositoryReader.Deferred?

    init(snapshot: Snapshot, result: DesiredState.LoadResult, deferred: RepositoryReader.Deferred? = nil) {
        self.snapshot = snapshot
        self.result = result
        self.deferred = deferred
        var defined = Set<String>()
        var siteFiles: [String: Set<String>] = [:]
        for path in snapshot.files.keys {
            if path.hasPrefix("components/") {
                let rest = path.dropFirst("components/".count)
                if rest.hasSuffix(".yaml"), !rest.contains("/") { defined.insert(String(rest.dropLast(5))) }
            } else if path.hasPrefix("sites/") {
                let parts = path.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count >= 3 { siteFiles[String(parts[1]), default: []].insert(path) }
            }
        }
        definedComponents = defined
        self.siteFiles = siteFiles
        runners = [:]
        for site in result.state.sites { addRunner(site) }
    }

    mutating func addRunner(_ site: Site) {
        for name in site.components { runners["components/\(name)", default: []].insert(site.name) }
        for name in site.flows { runners["flows/\(name)", default: []].insert(site.name) }
    }

    mutating func removeRunner(_ site: Site) {
        for name in site.components { runners["components/\(name)"]?.remove(site.name) }
        for name in site.flows { runners["flows/\(name)"]?.remove(site.name) }
    }
}

/// The outcome of reading only what changed.
struct IncrementalLoad {
    var basis: LoadBasis
    /// Sites whose compile inputs changed (including sites that were added or removed).
    var affectedSites: [String]
}

extension RepositoryReader {
    static let waveCodes: Set<String> = ["unknown-site", "site-in-two-waves", "site-in-no-wave"]

    /// Re-reads only the sites and definitions that `changed` touches, on top of `basis`.
    ///
    /// Returns nil whenever the change is outside what this path reproduces exactly (interlock.yaml, added or
    /// removed definitions or templates, unusual files, names that differ from their directory, unknown
    /// references, unused overrides…): the caller then reads the whole snapshot. `documents` must hold the
    /// parsed form of every changed YAML file the format reads.
    static func incremental(
        basis: LoadBasis, snapshot: Snapshot, changed: [String], documents: [String: ParsedDocument]
    ) -> IncrementalLoad? {
        var state = basis.result.state
        guard state.sites.allSatisfy({ $0.file == "sites/\($0.name)/site.yaml" }) else { return nil }
        var siteDirectories = Set<String>()
        var definitionFiles: [String] = []
        var changedComponents = Set<String>(), changedFlows = Set<String>()
        for path in changed {
            if let file = snapshot.files[path], !file.pathIsValidUTF8 { return nil }
            if let file = basis.snapshot.files[path], !file.pathIsValidUTF8 { return nil }
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let existsInBoth = snapshot.files[path] != nil && basis.snapshot.files[path] != nil
            switch parts[0] {
            case RepositoryConfig.fileName where parts.count == 1:
                return nil
            case "sites" where parts.count >= 3:
                siteDirectories.insert(parts[1])
            case "components" where parts.count == 2 && parts[1].hasSuffix(".yaml"):
                guard existsInBoth else { return nil }
                definitionFiles.append(path)
                changedComponents.insert(String(parts[1].dropLast(5)))
            case "components" where parts.count > 2:
                guard existsInBoth else { return nil }
                changedComponents.insert(parts[1])
            case "flows" where parts.count == 2 && parts[1].hasSuffix(".yaml"):
                guard existsInBoth else { return nil }
                guard !basis.result.diagnostics.contains(where: { $0.code == "unknown-flow" }) else { return nil }
                definitionFiles.append(path)
                changedFlows.insert(String(parts[1].dropLast(5)))
            case "components", "flows":
                return nil
            default:
                continue  // outside the format (a README, files directly in sites/): never read
            }
        }

        var reader = RepositoryReader(snapshot: snapshot)
        reader.documents = documents
        var basisOut = basis
        basisOut.snapshot = snapshot

        // Definitions whose text changed: same path, so only the parse result differs (a state read site by site
        // holds no definitions: its sites read them when they compile).
        var deferred = basis.deferred
        for path in definitionFiles {
            let name = String(path.split(separator: "/")[1].dropLast(5))
            reader.checkDefinitionName(name, path: path)
            guard deferred == nil else { continue }
            let node = reader.parse(path)
            if path.hasPrefix("components/") { state.componentDocuments[name] = node } else { state.flowDocuments[name] = node }
        }

        // Sites whose directory changed.
        for path in changed where path.hasPrefix("sites/") {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            let directory = String(parts[1])
            if snapshot.files[path] != nil {
                basisOut.siteFiles[directory, default: []].insert(path)
            } else {
                basisOut.siteFiles[directory]?.remove(path)
                if basisOut.siteFiles[directory]?.isEmpty == true { basisOut.siteFiles[directory] = nil }
            }
        }
        var readSites: [String: Site] = [:]
        for directory in siteDirectories.sorted() {
            state.overrides[directory] = nil
            deferred?.overrides[directory] = nil
            guard let paths = basisOut.siteFiles[directory] else { continue }  // the directory is gone
            var siteFile: String?
            var overrideFiles: [(resource: String, file: String)] = []
            for path in paths.sorted() {
                let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                if parts.count == 3, parts[2] == "site.yaml" {
                    siteFile = path
                } else if parts.count == 5, parts[2] == "overrides", ["components", "flows"].contains(parts[3]), parts[4].hasSuffix(".yaml") {
                    overrideFiles.append(("\(parts[3])/\(parts[4].dropLast(5))", path))
                } else {
                    return nil  // a file the format warns about
                }
            }
            guard let siteFile else { return nil }
            guard let node = reader.parse(siteFile), let site = Site.read(node, directory: directory, file: siteFile, reader: reader.reader) else {
                continue
            }
            guard site.name == directory else { return nil }
            for name in site.components where state.componentDocuments[name] == nil && !basis.definedComponents.contains(name) { return nil }
            for name in site.flows where state.flowDocuments[name] == nil && snapshot.files["flows/\(name).yaml"] == nil { return nil }
            readSites[directory] = site
            for entry in overrideFiles {
                let name = String(entry.resource.split(separator: "/")[1])
                let runs = entry.resource.hasPrefix("components/") ? site.components.contains(name) : site.flows.contains(name)
                guard runs else { return nil }
                if deferred != nil {
                    deferred?.overrides[site.name, default: []].append((entry.resource, entry.file))
                    continue
                }
                guard let override = reader.parse(entry.file) else { continue }
                guard override.pairs != nil else { return nil }
                state.overrides[site.name, default: [:]][entry.resource] = override
            }
        }
        let previousNames = Set(state.sites.map(\.name))
        for site in state.sites where siteDirectories.contains(site.name) { basisOut.removeRunner(site) }
        for site in readSites.values { basisOut.addRunner(site) }
        state.sites = (state.sites.filter { !siteDirectories.contains($0.name) } + readSites.values).sorted { $0.name < $1.name }
        reader.checkWaves(config: state.config, sites: state.sites)
        state.snapshot = snapshot

        let definitionSet = Set(definitionFiles)
        var diagnostics = Diagnostics()
        for diagnostic in basis.result.diagnostics {
            let file = diagnostic.location.file
            if definitionSet.contains(file) { continue }
            if file.hasPrefix("sites/"), let directory = file.split(separator: "/").dropFirst().first,
               siteDirectories.contains(String(directory)) { continue }
            if file == RepositoryConfig.fileName, waveCodes.contains(diagnostic.code) { continue }
            diagnostics.append(diagnostic)
        }
        diagnostics.append(contentsOf: reader.reader.diagnostics)
        basisOut.result = DesiredState.LoadResult(state: state, diagnostics: diagnostics.sorted)
        basisOut.deferred = deferred

        var affected = siteDirectories.filter { previousNames.contains($0) || readSites[$0] != nil }
        for name in changedComponents { affected.formUnion(basisOut.runners["components/\(name)"] ?? []) }
        for name in changedFlows { affected.formUnion(basisOut.runners["flows/\(name)"] ?? []) }
        return IncrementalLoad(basis: basisOut, affectedSites: affected.sorted())
    }
}
