import CLibGit2
import Foundation

/// A git repository on disk, opened with libgit2.
///
/// Owns one `git_repository` handle and frees it when released. Not `Sendable`: use one `Repository`
/// per task or thread (open another one for concurrent work). Everything it returns is a plain value.
public final class Repository {
    let handle: OpaquePointer
    /// Large trees of the latest snapshot read, for the next incremental update (see `KeptTrees`).
    var keptTrees = KeptTrees()

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        keptTrees.removeAll()
        git_repository_free(handle)
    }

    /// Opens the bare repository or work tree (a directory containing `.git`) at exactly `path`;
    /// parent directories are not searched.
    public static func open(at path: String) throws -> Repository {
        ensureLibgit2()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw GitError(
                function: "git_repository_open_ext", code: GitError.notFound, errorClass: Int32(GIT_ERROR_OS.rawValue),
                message: "no directory at '\(path)'",
                hint: "check the repository path; a mirror is created by Repository.mirror(from:into:)")
        }
        var repository: OpaquePointer?
        let result = git_repository_open_ext(&repository, path, GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue, nil)
        if result < 0 {
            let error = GitError.last(function: "git_repository_open_ext", code: result)
            guard result == GitError.notFound else { throw error }
            throw error.rephrased(
                "'\(path)' is not a git repository",
                hint: "pass a bare repository or a work tree that contains .git (create one with git init or git clone)")
        }
        return Repository(handle: repository!)
    }

    /// The work tree for a non-bare repository, otherwise the repository directory itself (no trailing `/`).
    public var path: String {
        if let workdir = git_repository_workdir(handle) { return trimmedPath(workdir) }
        return gitDirectory
    }

    /// The directory holding the objects and refs (`…/.git` for a work tree), without a trailing `/`.
    public var gitDirectory: String { trimmedPath(git_repository_path(handle)) }

    /// Whether the repository has no work tree.
    public var isBare: Bool { git_repository_is_bare(handle) == 1 }

    /// Whether the repository has no commits yet: HEAD names a branch that does not exist and there are
    /// no references at all. A repository whose HEAD cannot be read counts as not empty (`resolve` then
    /// reports the problem).
    ///
    /// Not `git_repository_is_empty`: in libgit2 1.5.1 that only answers true when HEAD points at the
    /// branch libgit2 itself would create (`init.defaultBranch`, else `master`), so a fresh repository
    /// made with `git init -b main` counts as not empty.
    public var isEmpty: Bool {
        guard git_repository_head_unborn(handle) == 1 else { return false }
        var iterator: OpaquePointer?
        guard git_reference_iterator_new(&iterator, handle) == 0 else { return false }
        defer { git_reference_iterator_free(iterator) }
        var reference: OpaquePointer?
        let first = git_reference_next(&reference, iterator)
        if first == 0 { git_reference_free(reference) }
        return first == GIT_ITEROVER.rawValue
    }

    /// The commit a revision names: a branch, a tag (annotated or lightweight), a full or short id, or
    /// any `git rev-parse` expression such as `HEAD~2`, `main^2` or `v1.2^{commit}`.
    ///
    /// In a mirror (whose branches are fetched as its own branches) `origin/main` also names `main`.
    public func resolve(_ revision: String) throws -> CommitInfo {
        try commit(resolveID(revision))
    }

    /// The id of the commit a revision names; see `resolve(_:)`.
    public func resolveID(_ revision: String) throws -> ObjectID {
        do {
            return try peeledCommitID(revision)
        } catch let error as GitError where error.function == "git_revparse_single" {
            if error.code == GitError.notFound, let branch = mirroredRemoteBranch(revision),
               let id = try? peeledCommitID(branch) {
                return id  // the original error stands if the mirror's branch does not resolve either
            }
            throw explain(error, revision: revision)
        }
    }

    private func peeledCommitID(_ revision: String) throws -> ObjectID {
        var object: OpaquePointer?
        let result = git_revparse_single(&object, handle, revision)
        if result < 0 { throw GitError.last(function: "git_revparse_single", code: result) }
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        let peeled = git_object_peel(&commit, object, GIT_OBJECT_COMMIT)
        if peeled < 0 {
            let kind = String(cString: git_object_type2string(git_object_type(object)))
            throw GitError.last(function: "git_object_peel", code: peeled).rephrased(
                "revision '\(revision)' names a \(kind), not a commit",
                hint: "name a branch, a tag that points at a commit, or a commit id")
        }
        defer { git_object_free(commit) }
        return ObjectID(git_object_id(commit))
    }

    /// `origin/main` → `main` when `origin` is a remote of this repository and it is bare (a mirror).
    private func mirroredRemoteBranch(_ revision: String) -> String? {
        guard isBare, let slash = revision.firstIndex(of: "/") else { return nil }
        let remote = String(revision[..<slash])
        guard remoteNames().contains(remote) else { return nil }
        let rest = revision[revision.index(after: slash)...]
        return rest.isEmpty ? nil : String(rest)
    }

    private func explain(_ error: GitError, revision: String) -> GitError {
        if error.code == GIT_EAMBIGUOUS.rawValue {
            return error.rephrased(
                "revision '\(revision)' is ambiguous in '\(path)' (libgit2: \(error.message))",
                hint: "use more hex digits of the commit id, or the full branch name (refs/heads/…)")
        }
        guard error.code == GitError.notFound || error.code == GIT_EUNBORNBRANCH.rawValue else { return error }
        if isEmpty {
            return error.rephrased(
                "the repository at '\(path)' has no commits yet, so '\(revision)' names nothing",
                hint: "push a first commit to the repository (or check that the URL is the right one)")
        }
        return error.rephrased(
            "revision '\(revision)' not found in '\(path)' (libgit2: \(error.message))",
            hint: "check the branch, tag or commit id (git log --oneline)")
    }

    /// Looks up any object and peels it to `type` (a commit to its tree, a tag to its target …).
    /// The caller frees the returned object with `git_object_free`.
    func peeledObject(_ id: ObjectID, to type: git_object_t) throws -> OpaquePointer {
        var oid = id.oid
        var object: OpaquePointer?
        try check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_ANY), "git_object_lookup")
        defer { git_object_free(object) }
        var peeled: OpaquePointer?
        try check(git_object_peel(&peeled, object, type), "git_object_peel")
        return peeled!
    }
}

private func trimmedPath(_ path: UnsafePointer<CChar>) -> String {
    let text = String(cString: path)
    return text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
}
