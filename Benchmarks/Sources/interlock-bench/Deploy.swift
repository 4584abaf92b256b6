import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel

/// Writes what the files driver would have written for a compiled site, without the per-file fsync and
/// backups of `FilesDriver.apply` (this is set-up, not the thing measured). `changedPercent` of the file
/// resources are written with different content, as if an earlier commit had been applied.
func deploy(_ compiled: CompiledSite, into root: String, changedPercent: Int = 0, manifest writeManifest: Bool = true) throws {
    let manager = FileManager.default
    try? manager.removeItem(atPath: root)
    var entries: [String: Value] = [:]
    var counter = 0
    for resource in compiled.resources {
        let file = FilesDriver.file(forResource: resource.path)
        var content = resource.content
        if resource.kind == .file {
            counter += 1
            if changedPercent > 0, counter % (100 / changedPercent) == 0 { content.append(contentsOf: Array("# changed by an earlier commit\n".utf8)) }
        }
        let path = root + "/" + file
        try manager.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard manager.createFile(atPath: path, contents: content, attributes: [.posixPermissions: Int(resource.mode ?? 0o644)]) else {
            throw BenchError("cannot write \(path)")
        }
        entries[resource.path] = .object([
            "file": .string(file), "hash": .string(Resource.hash(content)), "mode": .string(String(format: "%04o", resource.mode ?? 0o644)),
            "commit": .null, "plan": .string("sha256:bench"), "appliedAt": .string("2026-01-01T00:00:00Z"),
        ])
    }
    guard writeManifest else { return }
    let manifest = Value.object(["format": .int(1), "site": .string(compiled.site.name), "entries": .object(entries)])
    try manager.createDirectory(atPath: root + "/.interlock", withIntermediateDirectories: true)
    try Data(manifest.prettyJSONBytes).write(to: URL(fileURLWithPath: root + "/.interlock/manifest.json"))
}

/// Compile → observe → plan for one site, as `SitePlanning.plan` does; the compilation may come from a cache.
func planSite(_ compilation: DesiredState.Compilation, targetBase: String) throws -> Plan {
    let site = compilation.site.site
    guard compilation.isValid else { throw BenchError("site \(site.name) does not compile: \(compilation.diagnostics.first!)") }
    let live = try SitePlanning(targetBase: targetBase).driver(for: site).observe(desired: compilation.site.resources)
    return Planner.plan(desired: compilation.site, live: live)
}

/// Writes every site of the repository's HEAD into its files root under `targetBase`, with a manifest, as if each had
/// been deployed (set-up for measuring a fleet in steady state; nothing is recorded in any store).
func deployFleet(repository: String, targetBase: String) throws {
    let repo = try Repository.open(at: repository)
    let outline = try DesiredStateOutline.read(repo, commit: repo.resolveID("HEAD"))
    let state = outline.state
    let failures = ParallelMap.map(state.sites) { site -> String? in
        guard case .files(let root) = site.target else { return "\(site.name): not a files target" }
        let compilation = state.compile(site: site)
        guard compilation.isValid else { return "\(site.name) does not compile: \(compilation.diagnostics.first!)" }
        do {
            try deploy(compilation.site, into: TargetPolicy.absoluteRoot(root, targetBase: targetBase))
            return nil
        } catch {
            return "\(site.name): \(error)"
        }
    }.compactMap { $0 }
    if let first = failures.first { throw BenchError("\(failures.count) site(s) not deployed; first: \(first)") }
}
