import CLibGit2

/// `git_libgit2_init()`, run once per process the first time anything in this module touches libgit2.
/// libgit2 is never shut down: its global state lives as long as the process.
///
/// Objects are not hashed again each time they are read (libgit2's strict hash verification is off), as git
/// itself reads them: an object's id is checked when it enters the repository — indexing a fetched pack
/// computes every id — and a damaged object on disk still fails zlib's checksum when it is inflated. Hashing
/// every object read with SHA-1DC cost a third of a full snapshot read and half of an incremental update.
let libgit2Initialization: Int32 = {
    let result = git_libgit2_init()
    _ = interlock_git_set_strict_hash_verification(0)
    return result
}()

/// Makes sure libgit2 is initialised; cheap after the first call.
@inline(__always)
func ensureLibgit2() {
    _ = libgit2Initialization
}

/// Facts about the libgit2 library this process is linked against.
public enum GitLibrary {
    /// What the linked libgit2 was built with (`git_libgit2_features()`).
    public struct Features: Sendable, Hashable {
        public var threads: Bool
        public var https: Bool
        public var ssh: Bool
        public var nanosecondTimestamps: Bool
    }

    /// The libgit2 version, e.g. `1.5.1`.
    public static var version: String {
        ensureLibgit2()
        var major: Int32 = 0, minor: Int32 = 0, revision: Int32 = 0
        _ = git_libgit2_version(&major, &minor, &revision)
        return "\(major).\(minor).\(revision)"
    }

    /// The optional features compiled into libgit2.
    public static var features: Features {
        ensureLibgit2()
        let flags = UInt32(bitPattern: git_libgit2_features())
        return Features(
            threads: flags & GIT_FEATURE_THREADS.rawValue != 0,
            https: flags & GIT_FEATURE_HTTPS.rawValue != 0,
            ssh: flags & GIT_FEATURE_SSH.rawValue != 0,
            nanosecondTimestamps: flags & GIT_FEATURE_NSEC.rawValue != 0
        )
    }

    /// The URL schemes libgit2's built-in transports accept here (local paths are always accepted).
    public static var supportedSchemes: [String] {
        let features = features
        var schemes = ["file", "git", "http"]
        if features.https { schemes.append("https") }
        if features.ssh { schemes += ["ssh", "ssh+git", "git+ssh"] }
        return schemes
    }
}
