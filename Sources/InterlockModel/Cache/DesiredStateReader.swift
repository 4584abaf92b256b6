import Foundation
import InterlockGit

/// Reads one repository source again and again — the passes of a reconcile loop — each read on top of the one
/// before: only changed subtrees are read, only affected sites compiled again
/// (`RepositorySource.read(revision:stateDirectory:reusing:)` and `DesiredStateCache`). The git repository stays
/// open between reads, with the large trees its previous read parsed. Safe to share between threads (reads take
/// turns).
///
/// By default the reader keeps an outline of the repository and each site reads its own definitions when it
/// compiles (`DesiredStateOutline`): memory follows the outline, not every parsed file. `bySite: false` keeps every
/// parsed document instead, as earlier versions did; every result then equals a cold `DesiredState.load`.
public final class DesiredStateReader: @unchecked Sendable {
    public let source: RepositorySource
    public let revision: String
    public let stateDirectory: String
    /// Compilations of unchanged sites are reused from here.
    public let cache: DesiredStateCache
    private let lock = NSLock()
    private var previous: Snapshot?
    /// Opened by the first read; used only while holding `lock` (libgit2 handles are not for concurrent use).
    private var repository: Repository?
    /// A second handle on the same repository for the sites' files, so compiling never waits for a fetch.
    private let contents: ContentRepository

    public init(source: RepositorySource, revision: String, stateDirectory: String, bySite: Bool = true) {
        self.source = source
        self.revision = revision
        self.stateDirectory = stateDirectory
        let contents = ContentRepository()
        self.contents = contents
        cache = bySite ? DesiredStateCache(bySite: { paths, snapshot in try contents.loadContent(of: paths, in: &snapshot) }) : DesiredStateCache()
    }

    /// The desired state at `revision` now, and the commit it was read at (nil for a working tree).
    public func read() throws -> (result: DesiredState.LoadResult, commit: CommitInfo?) {
        let read = try readUpdate()
        return (read.result, read.commit)
    }

    /// What one read found: the desired state, its commit, and which sites it changed.
    public struct Read: Sendable {
        public var result: DesiredState.LoadResult
        /// The commit it was read at (nil for a working tree).
        public var commit: CommitInfo?
        /// The sites whose compile inputs differ from the previous read (added and removed sites included); nil when
        /// unknown — the first read, or a change to what every site compiles from.
        public var affectedSites: [String]?
    }

    /// The desired state at `revision` now, with the sites the read found changed since the previous one.
    public func readUpdate() throws -> Read {
        let (update, commit) = try lock.withLock {
            let read = try source.read(
                revision: revision, stateDirectory: stateDirectory, reusing: previous, keeping: &repository, outline: cache.worksBySite)
            previous = read.update.snapshot
            if let repository { contents.use(repository.gitDirectory) }
            return read
        }
        let loaded = cache.update(update)
        return Read(result: loaded.result, commit: commit, affectedSites: loaded.affectedSites)
    }
}

/// Opens the repository at the path last given, on first use, and reads file contents from it (one at a time).
private final class ContentRepository: @unchecked Sendable {
    private let lock = NSLock()
    private var path: String?
    private var repository: Repository?

    func use(_ gitDirectory: String) {
        lock.withLock {
            guard path != gitDirectory else { return }
            path = gitDirectory
            repository = nil
        }
    }

    func loadContent(of paths: [String], in snapshot: inout Snapshot) throws {
        try lock.withLock {
            if repository == nil {
                guard let path else { throw OutlineError(path: paths.first ?? "") }
                repository = try Repository.open(at: path)
            }
            try repository!.loadContent(of: paths, in: &snapshot)
        }
    }
}
