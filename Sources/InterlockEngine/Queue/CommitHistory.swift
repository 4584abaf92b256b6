import Foundation

/// The commits of the desired-state repository between two points, for the four-eyes rule: nobody who wrote or
/// committed any commit a change carries may approve it.
public protocol CommitHistory: Sendable {
    /// The commits reachable from `head` but not from `base` (all of `head`'s history when `base` is nil), newest
    /// first, at most `limit`; nil when the history cannot be read (a working tree has none).
    func commits(from base: String?, to head: String, limit: Int) -> [CommitIdentity]?

    /// The repository paths a commit changed against its first parent (every path for a root commit); nil when
    /// unknown. Used to name, for each operation, the commit that introduced it.
    func changedPaths(of commit: String) -> Set<String>?
}

extension CommitHistory {
    public func changedPaths(of commit: String) -> Set<String>? { nil }

    /// For each operation, the newest of `commits` (newest first) that changed one of the files its resource is
    /// compiled from. A delete has no sources: its resource's own definition (`flows/<name>.yaml`,
    /// `components/<name>.yaml`, files under `components/<name>/`) or the site's directory stands in for them.
    public func introducing(_ operations: [Operation], site: String, commits: [CommitIdentity]) -> [String?] {
        guard !commits.isEmpty else { return operations.map { _ in nil } }
        var paths: [String: Set<String>] = [:]
        func changed(_ commit: String) -> Set<String> {
            if let known = paths[commit] { return known }
            let found = changedPaths(of: commit) ?? []
            paths[commit] = found
            return found
        }
        return operations.map { operation in
            for commit in commits {
                let touched = changed(commit.id)
                if touched.isEmpty { continue }
                if !operation.sources.isEmpty {
                    if operation.sources.contains(where: touched.contains) { return commit.id }
                    continue
                }
                let name = operation.path.split(separator: "/", maxSplits: 1).last.map(String.init) ?? operation.path
                let own = operation.kind == .file ? nil : "\(operation.kind.directory)/\(name)"
                let hit = touched.contains { path in
                    if let own, path == own + ".yaml" || path == own + ".yml" || path.hasPrefix(own + "/") { return true }
                    return path.hasPrefix("sites/\(site)/")
                }
                if hit { return commit.id }
            }
            return nil
        }
    }
}

extension CommitHistory {
    /// How many commits a change lists at most (a first deployment of a long history carries its newest ones).
    public static var changeCommitLimit: Int { 1000 }
}
