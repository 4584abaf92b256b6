import Foundation
import InterlockGit

/// Where the desired state is read from: a local repository, a remote one mirrored into the state
/// directory, or a plain directory (a working tree, before it is committed).
public enum RepositorySource: Sendable, Hashable, CustomStringConvertible {
    case local(path: String)
    case remote(url: String)
    case workTree(path: String)

    /// Interprets the `--repo` argument: URLs (`scheme://…`, `user@host:path`) are remote, anything
    /// else is a local path.
    public init(_ argument: String, workTree: Bool = false) {
        if workTree {
            self = .workTree(path: argument)
        } else if argument.contains("://") || RepositorySource.isSCPLike(argument) {
            self = .remote(url: argument)
        } else {
            self = .local(path: argument)
        }
    }

    private static func isSCPLike(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":"), let at = text.firstIndex(of: "@"), at < colon else { return false }
        return !text[..<colon].contains("/")
    }

    public var description: String {
        switch self {
        case .local(let path): path
        case .remote(let url): url
        case .workTree(let path): "\(path) (working tree)"
        }
    }

    /// The directory a remote repository is mirrored into: `<state>/mirrors/<hash of the URL>`.
    public static func mirrorDirectory(for url: String, stateDirectory: String) -> String {
        let digest = Resource.hash(Data(url.utf8)).dropFirst("sha256:".count).prefix(16)
        return "\(stateDirectory)/mirrors/\(digest)"
    }

    /// A snapshot of the desired state at `revision`, with the commit's metadata when read from git.
    /// Remote repositories are cloned (first time) or fetched into the state directory.
    public func read(revision: String, stateDirectory: String) throws -> (snapshot: Snapshot, commit: CommitInfo?) {
        switch try open(stateDirectory: stateDirectory) {
        case .workTree(let path):
            return (try Snapshot.directory(at: path), nil)
        case .git(let repository):
            let commit = try repository.resolve(revision)
            return (try repository.snapshot(of: commit.id), commit)
        }
    }

    /// The outline of the desired state at `revision` (see `DesiredStateOutline`): every path and id, with
    /// `interlock.yaml` and the site files read and checked; each site's definitions are read when it is worked on.
    /// A working tree is read whole (its files are on disk anyway).
    public func readOutline(revision: String, stateDirectory: String) throws -> (outline: DesiredStateOutline, commit: CommitInfo?) {
        switch try open(stateDirectory: stateDirectory) {
        case .workTree(let path):
            return (DesiredStateOutline(try Snapshot.directory(at: path)), nil)
        case .git(let repository):
            let commit = try repository.resolve(revision)
            return (try DesiredStateOutline.read(repository, commit: commit.id), commit)
        }
    }

    /// Reads like `read(revision:stateDirectory:)`, taking every subtree whose object id did not change from
    /// `previous` (a snapshot read earlier): the work follows what changed since, not the size of the repository.
    public func read(revision: String, stateDirectory: String, reusing previous: Snapshot?) throws -> (update: SnapshotUpdate, commit: CommitInfo?) {
        var repository: Repository?
        return try read(revision: revision, stateDirectory: stateDirectory, reusing: previous, keeping: &repository)
    }

    /// Reads like `read(revision:stateDirectory:reusing:)`, keeping the git repository open in `kept` from one
    /// call to the next (pass nil the first time), as a reconcile loop does: libgit2's cache then still holds the
    /// trees the previous read parsed, so an update parses only the new ones. A remote source's mirror is still
    /// fetched on every call. After an error `kept` is nil, so the next call opens the repository afresh.
    ///
    /// With `outline`, a first read (no `previous`) reads an outline (`DesiredStateOutline.isReadUpFront` files
    /// loaded) instead of every file, for a `DesiredStateCache` that works site by site.
    public func read(
        revision: String, stateDirectory: String, reusing previous: Snapshot?, keeping kept: inout Repository?, outline: Bool = false
    ) throws -> (update: SnapshotUpdate, commit: CommitInfo?) {
        do {
            switch try open(stateDirectory: stateDirectory, kept: kept) {
            case .workTree(let path):
                kept = nil
                let snapshot = try Snapshot.directory(at: path)
                return (SnapshotUpdate(base: nil, snapshot: snapshot, changedPaths: snapshot.files.keys.sorted()), nil)
            case .git(let repository):
                kept = repository
                let commit = try repository.resolve(revision)
                let loading: ((String) -> Bool)? = outline ? { DesiredStateOutline.isReadUpFront($0) } : nil
                return (try repository.snapshotUpdate(of: commit.id, reusing: previous ?? Snapshot(files: [:]), loading: loading), commit)
            }
        } catch {
            kept = nil
            throw error
        }
    }

    private enum Opened {
        case workTree(path: String)
        case git(Repository)
    }

    /// The directory to read, or the git repository (a remote one mirrored and fetched first): `kept` when it
    /// was opened by an earlier call.
    private func open(stateDirectory: String, kept: Repository? = nil) throws -> Opened {
        switch self {
        case .workTree(let path):
            return .workTree(path: path)
        case .local(let path):
            return .git(try kept ?? Repository.open(at: path))
        case .remote(let url):
            if let kept {
                try kept.fetch(remote: "origin")
                return .git(kept)
            }
            let directory = RepositorySource.mirrorDirectory(for: url, stateDirectory: stateDirectory)
            try FileManager.default.createDirectory(atPath: "\(stateDirectory)/mirrors", withIntermediateDirectories: true)
            return .git(try Repository.mirror(from: url, into: directory))
        }
    }
}
