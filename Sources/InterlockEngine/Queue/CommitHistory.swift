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
    /// compiled from; when none did, the newest that changed the site's own directory (its values). A delete has no
    /// sources: its resource's own definition (`flows/<name>.yaml`, `components/<name>.yaml`, files under
    /// `components/<name>/`) stands in for them, then the site's directory.
    public func introducing(_ operations: [Operation], site: String, commits: [CommitIdentity]) -> [String?] {
        guard !commits.isEmpty else { return operations.map { _ in nil } }
        let changed = commits.map { (id: $0.id, paths: changedPaths(of: $0.id) ?? []) }
        let siteDirectory = "sites/\(site)/"
        return operations.map { operation in
            let name = operation.path.split(separator: "/", maxSplits: 1).last.map(String.init) ?? operation.path
            let own = operation.kind == .file ? nil : "\(operation.kind.directory)/\(name)"
            func isOwn(_ path: String) -> Bool {
                if !operation.sources.isEmpty { return operation.sources.contains(path) }
                guard let own else { return false }
                return path == own + ".yaml" || path == own + ".yml" || path.hasPrefix(own + "/")
            }
            if let hit = changed.first(where: { $0.paths.contains(where: isOwn) }) { return hit.id }
            return changed.first { $0.paths.contains { $0.hasPrefix(siteDirectory) } }?.id
        }
    }
}

extension CommitHistory {
    /// How many commits a change lists at most (a first deployment of a long history carries its newest ones).
    public static var changeCommitLimit: Int { 1000 }
}
