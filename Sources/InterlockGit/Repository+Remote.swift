import CLibGit2
import Foundation

/// What one fetch brought in.
public struct FetchSummary: Sendable, Hashable {
    /// Objects received from the remote (0 when nothing was new).
    public var receivedObjects: Int
    /// Bytes of pack data received.
    public var receivedBytes: Int
    /// Local references that were created or moved, sorted (`refs/heads/main`, `refs/tags/v1` …).
    public var updatedRefs: [String]

    public init(receivedObjects: Int, receivedBytes: Int, updatedRefs: [String]) {
        self.receivedObjects = receivedObjects
        self.receivedBytes = receivedBytes
        self.updatedRefs = updatedRefs
    }
}

extension Repository {
    /// The fetch refspecs of a mirror: the remote's branches and tags become the mirror's own, forced.
    public static let mirrorRefspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]

    /// Opens the mirror in `directory` and fetches into it, or — when `directory` does not hold a
    /// repository yet — clones `url` into it as a bare mirror (see `mirrorRefspecs`).
    ///
    /// `url` may be a local path, a `file://` URL or any URL the linked libgit2 supports
    /// (`GitLibrary.supportedSchemes`). An existing mirror's `origin` is pointed at `url` before fetching.
    public static func mirror(from url: String, into directory: String) throws -> Repository {
        ensureLibgit2()
        if let error = transportProblem(url, function: "git_clone") { throw error }
        let existing: Repository
        do {
            existing = try Repository.open(at: directory)
        } catch let error as GitError where error.isNotFound {
            return try cloneMirror(from: url, into: directory)
        }
        try existing.ensureMirrorRemote(named: "origin", url: url)
        _ = try existing.fetch(remote: "origin")
        return existing
    }

    /// Fetches the remote's branches and tags with the remote's configured refspecs (forced for a mirror).
    @discardableResult
    public func fetch(remote name: String = "origin") throws -> FetchSummary {
        var remote: OpaquePointer?
        let found = git_remote_lookup(&remote, handle, name)
        if found < 0 {
            let error = GitError.last(function: "git_remote_lookup", code: found)
            guard error.isNotFound else { throw error }
            throw error.rephrased("the repository at '\(path)' has no remote named '\(name)'",
                                  hint: "mirror it with Repository.mirror(from:into:) or add the remote with git remote add")
        }
        defer { git_remote_free(remote) }

        var options = git_fetch_options()
        try check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "git_fetch_options_init")
        let recorder = RefUpdateRecorder()
        options.callbacks.update_tips = { refname, _, _, payload in
            guard let refname, let payload else { return 0 }
            Unmanaged<RefUpdateRecorder>.fromOpaque(payload).takeUnretainedValue().refs.append(String(cString: refname))
            return 0
        }
        options.callbacks.payload = Unmanaged.passUnretained(recorder).toOpaque()
        let result = withExtendedLifetime(recorder) {
            git_remote_fetch(remote, nil, &options, "interlock: fetch")
        }
        if result < 0 {
            let url = git_remote_url(remote).map { String(cString: $0) } ?? name
            throw Self.explainTransport(GitError.last(function: "git_remote_fetch", code: result), url: url)
        }
        let stats = git_remote_stats(remote).pointee
        return FetchSummary(receivedObjects: Int(stats.received_objects), receivedBytes: Int(stats.received_bytes),
                            updatedRefs: recorder.refs.sorted())
    }

    /// Names of the remotes configured in this repository.
    public func remoteNames() -> [String] {
        var names = git_strarray()
        guard git_remote_list(&names, handle) == 0 else { return [] }
        defer { git_strarray_dispose(&names) }
        return (0..<names.count).compactMap { names.strings[$0].map { String(cString: $0) } }
    }

    private static func cloneMirror(from url: String, into directory: String) throws -> Repository {
        var options = git_clone_options()
        try check(git_clone_options_init(&options, UInt32(GIT_CLONE_OPTIONS_VERSION)), "git_clone_options_init")
        options.bare = 1
        options.remote_cb = { remote, repository, name, url, _ in
            createMirrorRemote(remote, repository, name, url)
        }
        var repository: OpaquePointer?
        let result = git_clone(&repository, url, directory, &options)
        if result < 0 { throw explainTransport(GitError.last(function: "git_clone", code: result), url: url) }
        let mirror = Repository(handle: repository!)
        try mirror.pointHeadAtRemoteDefaultBranch(remote: "origin")
        return mirror
    }

    /// Makes HEAD name the origin's default branch after a mirror clone.
    ///
    /// With a `refs/heads/*:refs/heads/*` refspec, libgit2 1.5.1's clone leaves HEAD on its own initial
    /// branch (`master`) and only records the remote's HEAD as `refs/remotes/origin/HEAD` →
    /// `refs/heads/<default>`. Move HEAD there and drop that lone remote-tracking ref.
    private func pointHeadAtRemoteDefaultBranch(remote: String) throws {
        var remoteHead: OpaquePointer?
        let found = git_reference_lookup(&remoteHead, handle, "refs/remotes/\(remote)/HEAD")
        if found == GitError.notFound { return }
        try check(found, "git_reference_lookup")
        defer { git_reference_free(remoteHead) }
        guard git_reference_type(remoteHead) == GIT_REFERENCE_SYMBOLIC,
              let target = git_reference_symbolic_target(remoteHead) else { return }
        let branch = String(cString: target)
        guard branch.hasPrefix("refs/heads/") else { return }
        try check(git_repository_set_head(handle, branch), "git_repository_set_head")
        try check(git_reference_delete(remoteHead), "git_reference_delete")
    }

    /// Makes sure `origin` exists, fetches with the mirror refspecs and points at `url`.
    private func ensureMirrorRemote(named name: String, url: String) throws {
        var remote: OpaquePointer?
        let found = git_remote_lookup(&remote, handle, name)
        if found == GitError.notFound {
            try check(createMirrorRemote(&remote, handle, name, url), "git_remote_create_with_fetchspec")
        } else {
            try check(found, "git_remote_lookup")
        }
        defer { git_remote_free(remote) }
        if let current = git_remote_url(remote), String(cString: current) != url {
            try check(git_remote_set_url(handle, name, url), "git_remote_set_url")
        }
    }

    /// A clear error when libgit2 here has no transport for `url`, or a local path does not exist.
    static func transportProblem(_ url: String, function: String) -> GitError? {
        let supported = GitLibrary.supportedSchemes
        if let separator = url.range(of: "://") {
            let scheme = url[..<separator.lowerBound].lowercased()
            return supported.contains(scheme) ? nil : unsupportedTransport(url, scheme: scheme, function: function)
        }
        if FileManager.default.fileExists(atPath: url) { return nil }
        if let colon = url.firstIndex(of: ":"), !url[..<colon].contains("/") {  // scp-like: host:path
            return supported.contains("ssh") ? nil : unsupportedTransport(url, scheme: "ssh", function: function)
        }
        return GitError(function: function, code: GitError.notFound, errorClass: Int32(GIT_ERROR_OS.rawValue),
                        message: "the source repository '\(url)' does not exist (not a URL and no such local path)",
                        hint: "give an existing local path, a file:// URL or a URL with one of: "
                            + supported.map { "\($0)://" }.joined(separator: ", "))
    }

    /// Rewrites libgit2's terse "unsupported URL protocol" into a sentence that says what is supported.
    static func explainTransport(_ error: GitError, url: String) -> GitError {
        // libgit2 1.5.1 says "unknown scheme for URL '…'" (GIT_EINVALIDSPEC) for a URL with an unknown
        // scheme, and "unsupported URL protocol" (GIT_ERROR) for anything else it has no transport for.
        guard error.errorClass == Int32(GIT_ERROR_NET.rawValue),
              error.message.contains("unsupported URL protocol") || error.message.contains("unknown scheme")
        else { return error }
        guard let separator = url.range(of: "://") else {
            return error.rephrased(
                "'\(url)' is not an existing local path, and libgit2 \(GitLibrary.version) has no transport for it",
                hint: supportedHint)
        }
        let scheme = url[..<separator.lowerBound].lowercased()
        return error.rephrased(
            "the transport '\(scheme)://' of '\(url)' is not supported by the installed libgit2 \(GitLibrary.version)",
            hint: supportedHint)
    }

    private static func unsupportedTransport(_ url: String, scheme: String, function: String) -> GitError {
        GitError(function: function, code: GitError.generic, errorClass: Int32(GIT_ERROR_NET.rawValue),
                 message: "the transport '\(scheme)://' of '\(url)' is not supported by the installed libgit2 \(GitLibrary.version)",
                 hint: supportedHint)
    }

    private static var supportedHint: String {
        "supported here: local paths, " + GitLibrary.supportedSchemes.map { "\($0)://" }.joined(separator: ", ")
            + " (see git_libgit2_features(); HTTPS and SSH depend on how libgit2 was built)"
    }
}

/// Collects the references a fetch moved; libgit2 calls `update_tips` once per reference.
private final class RefUpdateRecorder {
    var refs: [String] = []
}

/// libgit2 `remote_cb` for clones: an `origin` that fetches branches and tags as the mirror's own.
private func createMirrorRemote(
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ repository: OpaquePointer?,
    _ name: UnsafePointer<CChar>?, _ url: UnsafePointer<CChar>?
) -> Int32 {
    var remote: OpaquePointer?
    let created = git_remote_create_with_fetchspec(&remote, repository, name, url, Repository.mirrorRefspecs[0])
    guard created == 0 else { return created }
    git_remote_free(remote)
    for refspec in Repository.mirrorRefspecs.dropFirst() {
        let added = git_remote_add_fetch(repository, name, refspec)
        guard added == 0 else { return added }
    }
    // Look the remote up again so the returned handle sees every refspec just added to the config.
    return git_remote_lookup(out, repository, name)
}
