import Foundation
import InterlockGit

/// Reads one repository source again and again — the passes of a reconcile loop — each read on top of the one
/// before: only changed subtrees are read, only changed documents parsed, only affected sites compiled again
/// (`RepositorySource.read(revision:stateDirectory:reusing:)` and `DesiredStateCache`). Every result equals a
/// cold `DesiredState.load` of the same commit. The git repository stays open between reads, so libgit2's cache
/// keeps the trees the previous read parsed. Safe to share between threads (reads take turns).
public final class DesiredStateReader: @unchecked Sendable {
    public let source: RepositorySource
    public let revision: String
    public let stateDirectory: String
    /// Compilations of unchanged sites are reused from here.
    public let cache = DesiredStateCache()
    private let lock = NSLock()
    private var previous: Snapshot?
    /// Opened by the first read; used only while holding `lock` (libgit2 handles are not for concurrent use).
    private var repository: Repository?

    public init(source: RepositorySource, revision: String, stateDirectory: String) {
        self.source = source
        self.revision = revision
        self.stateDirectory = stateDirectory
    }

    /// The desired state at `revision` now, and the commit it was read at (nil for a working tree).
    public func read() throws -> (result: DesiredState.LoadResult, commit: CommitInfo?) {
        let (update, commit) = try lock.withLock {
            let read = try source.read(revision: revision, stateDirectory: stateDirectory, reusing: previous, keeping: &repository)
            previous = read.update.snapshot
            return read
        }
        return (cache.update(update).result, commit)
    }
}
