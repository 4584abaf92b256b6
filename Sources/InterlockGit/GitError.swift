import CLibGit2

/// A failed libgit2 call: which function failed, libgit2's error code and class, and what to do about it.
///
/// `message` is what libgit2 reported (`git_error_last()`, read at once on the failing thread), or a
/// clearer sentence for the cases users meet most (unknown revision, empty repository, unsupported
/// transport); the original libgit2 text is then kept in `libgit2Message`.
public struct GitError: Error, Sendable, CustomStringConvertible {
    /// The libgit2 function that failed, e.g. `git_revparse_single`.
    public var function: String
    /// libgit2's return code (`GIT_ENOTFOUND` is -3, the generic `GIT_ERROR` is -1).
    public var code: Int32
    /// libgit2's error class (`git_error_t`), e.g. 4 for `GIT_ERROR_REFERENCE`.
    public var errorClass: Int32
    /// The error class as a word: `reference`, `odb`, `net`, `repository`, …
    public var className: String
    /// What went wrong, for people.
    public var message: String
    /// What the user can do about it, when we know.
    public var hint: String?
    /// libgit2's own message when `message` was rewritten to be clearer.
    public var libgit2Message: String?

    public init(
        function: String, code: Int32, errorClass: Int32, message: String,
        hint: String? = nil, libgit2Message: String? = nil
    ) {
        self.function = function
        self.code = code
        self.errorClass = errorClass
        self.className = Self.className(of: errorClass)
        self.message = message
        self.hint = hint
        self.libgit2Message = libgit2Message
    }

    /// `git_revparse_single failed (reference, code -3): revision 'nope' not found …`, plus a hint line.
    public var description: String {
        var text = "\(function) failed (\(className), code \(code)): \(message)"
        if let hint { text += "\nhint: \(hint)" }
        return text
    }

    /// Whether libgit2 said the thing asked for does not exist (`GIT_ENOTFOUND`).
    public var isNotFound: Bool { code == GitError.notFound }

    /// `GIT_ENOTFOUND`: the requested object, reference or path does not exist.
    public static let notFound: Int32 = GIT_ENOTFOUND.rawValue
    /// `GIT_ERROR`: libgit2's generic failure code.
    public static let generic: Int32 = GIT_ERROR.rawValue

    /// The error libgit2 recorded for this thread after `function` returned `code`.
    static func last(function: String, code: Int32) -> GitError {
        guard let last = git_error_last() else {
            return GitError(function: function, code: code, errorClass: 0, message: "libgit2 gave no error message")
        }
        let message = last.pointee.message.map { String(cString: $0) } ?? "libgit2 gave no error message"
        return GitError(function: function, code: code, errorClass: last.pointee.klass, message: message)
    }

    /// This error with a clearer message; libgit2's text is kept in `libgit2Message`.
    func rephrased(_ message: String, hint: String?) -> GitError {
        var copy = self
        copy.libgit2Message = libgit2Message ?? self.message
        copy.message = message
        copy.hint = hint
        return copy
    }

    private static let classNames = [
        "none", "nomemory", "os", "invalid", "reference", "zlib", "repository", "config", "regex", "odb",
        "index", "object", "net", "tag", "tree", "indexer", "ssl", "submodule", "thread", "stash",
        "checkout", "fetchhead", "merge", "ssh", "filter", "revert", "callback", "cherrypick", "describe",
        "rebase", "filesystem", "patch", "worktree", "sha", "http", "internal",
    ]

    static func className(of errorClass: Int32) -> String {
        classNames.indices.contains(Int(errorClass)) ? classNames[Int(errorClass)] : "class \(errorClass)"
    }
}

/// Turns a libgit2 return code into a thrown `GitError`, reading `git_error_last()` at once.
///
/// libgit2 functions return 0 on success and a negative `git_error_code` on failure.
@inline(__always)
func check(_ result: Int32, _ function: String) throws {
    if result < 0 { throw GitError.last(function: function, code: result) }
}
