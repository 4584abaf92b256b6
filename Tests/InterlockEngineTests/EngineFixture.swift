import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel

/// The shipped Examples repository read from disk, editable in memory, with temporary site roots.
final class EngineFixture {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Examples").path

    var snapshot: Snapshot
    let base: String

    init() throws {
        snapshot = try Snapshot.directory(at: EngineFixture.examples)
        base = FileManager.default.temporaryDirectory.appendingPathComponent("interlock-engine-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    var planning: SitePlanning { SitePlanning(targetBase: base) }
    var state: DesiredState { DesiredState.load(from: snapshot).state }
    func site(_ name: String) -> Site { state.site(named: name)! }
    func root(_ site: String) -> String { base + "/" + site }
    func driver(_ site: String) -> FilesDriver { FilesDriver(site: site, root: root(site)) }

    /// Plans one site; fails the caller when the site does not plan.
    func plan(_ name: String) throws -> (desired: CompiledSite, live: LiveState, plan: Plan) {
        switch planning.plan(site(name), in: state) {
        case .planned(let desired, let live, let plan): return (desired, live, plan)
        case .invalid(_, let diagnostics): throw FixtureError(message: "invalid: \(diagnostics)")
        case .unreachable(_, let error): throw FixtureError(message: "unreachable: \(error)")
        }
    }

    /// Plans and applies one site, returning the applied plan.
    @discardableResult
    func deploy(_ name: String) throws -> Plan {
        let plan = try plan(name).plan
        _ = try driver(name).apply(plan)
        return plan
    }

    /// Replaces text in a repository file; fails loudly when `old` is not there.
    func edit(_ path: String, replacing old: String, with new: String) throws {
        guard var file = snapshot.files[path], let text = String(data: file.content, encoding: .utf8), text.contains(old) else {
            throw FixtureError(message: "\(path) does not contain \(old)")
        }
        file.content = Data(text.replacingOccurrences(of: old, with: new).utf8)
        snapshot.files[path] = file
    }

    func readLive(_ site: String, _ relative: String) -> String? {
        FileManager.default.contents(atPath: root(site) + "/" + relative).map { String(decoding: $0, as: UTF8.self) }
    }

    func writeLive(_ site: String, _ relative: String, _ text: String) throws {
        let url = URL(fileURLWithPath: root(site) + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    struct FixtureError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
