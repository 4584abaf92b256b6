import Foundation
import InterlockModel

/// Where the instance lets sites' targets point: `files` roots only inside the allowed directories (never inside
/// the state directory, where the audit log and its keys live), command drivers only with a command line the
/// instance configuration lists. A site whose target lies outside is neither observed nor applied: a commit cannot
/// aim Interlock at a directory or a program the operators did not allow.
public struct TargetPolicy: Sendable, Hashable {
    /// Directories `files` roots must lie inside (after `..` and symbolic links are resolved).
    public var roots: [String]
    /// Interlock's state directory (audit log, keys, mirrors): no root may be it, contain it, or lie inside it other
    /// than inside an allowed directory that is itself inside it (the default `<state>/targets`).
    public var stateDirectory: String?
    /// Command lines a command driver may run: a site's `target.command` must start with one of them.
    public var commands: [[String]]
    /// Environment variables a site's `target.env` may set.
    public var environment: [String]
    /// Where the allowed roots and commands are configured, for messages.
    public var source: String

    public init(roots: [String], stateDirectory: String?, commands: [[String]], environment: [String] = [], source: String) {
        self.roots = roots
        self.environment = environment
        self.stateDirectory = stateDirectory
        self.commands = commands
        self.source = source
    }

    /// The absolute directory a `files` root resolves to (relative roots against `targetBase`), `..` resolved.
    public static func absoluteRoot(_ root: String, targetBase: String) -> String {
        let joined = root.hasPrefix("/") ? root : targetBase + "/" + root
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    /// Why `site`'s target is not allowed, or nil when it is.
    public func check(_ site: Site, targetBase: String) -> Diagnostic? {
        let location = SourceLocation(file: site.file)
        switch site.target {
        case .files(let root):
            if root.split(separator: "/").contains("..") {
                return Diagnostic(
                    "target-not-allowed", at: location, field: "target.root",
                    "the target root '\(root)' contains '..'", hint: "name the directory without '..', e.g. 'root: plant-a'")
            }
            let absolute = Self.resolvingLinks(Self.absoluteRoot(root, targetBase: targetBase))
            let allowing = roots.map(Self.resolvingLinks).filter { Self.isInside(absolute, $0) }
            if let state = stateDirectory.map(Self.resolvingLinks),
               Self.isInside(state, absolute) || (Self.isInside(absolute, state) && !allowing.contains { Self.isInside($0, state) && $0 != state }) {
                return Diagnostic(
                    "target-not-allowed", at: location, field: "target.root",
                    "the target root \(absolute) overlaps Interlock's state directory \(state) (audit log, keys, mirrors)",
                    hint: "point the site at its own directory under \(roots.joined(separator: " or "))")
            }
            guard !allowing.isEmpty else {
                return Diagnostic(
                    "target-not-allowed", at: location, field: "target.root",
                    "the target root \(absolute) is outside the directories this instance allows (\(roots.joined(separator: ", ")))",
                    hint: "use a root inside one of them, or have an operator add the directory to targets.roots in \(source)")
            }
            return nil
        case .command(let spec):
            if let key = spec.environment.keys.sorted().first(where: { $0 == "PATH" || $0.hasPrefix("LD_") || $0.hasPrefix("DYLD_") }) {
                return Diagnostic(
                    "target-not-allowed", at: location, field: "target.env.\(key)",
                    "target.env may not set \(key): it would change which program the allowed command line runs",
                    hint: "remove it; give the program's absolute path in target.command and have an operator allow it under targets.commands")
            }
            if let key = spec.environment.keys.sorted().first(where: { !environment.contains($0) }) {
                return Diagnostic(
                    "target-not-allowed", at: location, field: "target.env.\(key)",
                    "target.env may not set \(key): the instance allows \(environment.isEmpty ? "no variables" : environment.joined(separator: ", "))",
                    hint: "variables such as PYTHONPATH would let a commit change what the driver runs; have an operator list harmless ones under targets.environment in \(source)")
            }
            guard commands.contains(where: { $0.count <= spec.arguments.count && Array(spec.arguments.prefix($0.count)) == $0 }) else {
                let allowed = commands.isEmpty ? "none are listed" : commands.map { $0.joined(separator: " ") }.joined(separator: "; ")
                return Diagnostic(
                    "target-not-allowed", at: location, field: "target.command",
                    "the command driver '\(spec.arguments.joined(separator: " "))' is not one this instance allows (\(allowed))",
                    hint: "have an operator list it under targets.commands in \(source)")
            }
            return nil
        }
    }

    static func isInside(_ path: String, _ directory: String) -> Bool {
        let directory = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        return path == directory || directory == "/" || path.hasPrefix(directory + "/")
    }

    /// `path` as the file system resolves it: symbolic links (and `..` after them) resolved by `realpath` in its
    /// longest existing prefix, the rest kept as written.
    static func resolvingLinks(_ path: String) -> String {
        var components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var rest: [String] = []
        while true {
            let prefix = "/" + components.joined(separator: "/")
            if let resolved = realpath(prefix, nil) {
                defer { free(resolved) }
                let base = String(cString: resolved)
                return rest.isEmpty ? base : (base == "/" ? "" : base) + "/" + rest.joined(separator: "/")
            }
            guard let last = components.popLast() else { return path }
            rest.insert(last, at: 0)
        }
    }
}
