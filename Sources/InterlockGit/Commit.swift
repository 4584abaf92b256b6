import CLibGit2

/// A commit, copied out of libgit2: ids, people, message and (if present) its signature.
public struct CommitInfo: Sendable, Hashable {
    /// The commit's own id.
    public var id: ObjectID
    /// The id of the commit's root tree.
    public var treeID: ObjectID
    /// Parent commit ids in order; two or more for a merge, none for a root commit.
    public var parents: [ObjectID]
    /// Who wrote the change.
    public var author: GitSignature
    /// Who made the commit.
    public var committer: GitSignature
    /// The message decoded as UTF-8; invalid sequences become U+FFFD.
    public var message: String
    /// The message bytes exactly as stored.
    public var rawMessage: [UInt8]
    /// The first line of the message.
    public var summary: String
    /// The `gpgsig` signature and the data it signs, or nil when the commit is not signed.
    public var signature: CommitSignature?

    public init(
        id: ObjectID, treeID: ObjectID, parents: [ObjectID], author: GitSignature, committer: GitSignature,
        rawMessage: [UInt8], signature: CommitSignature? = nil
    ) {
        self.id = id
        self.treeID = treeID
        self.parents = parents
        self.author = author
        self.committer = committer
        self.rawMessage = rawMessage
        self.message = String(decoding: rawMessage, as: UTF8.self)
        let firstLine = rawMessage.prefix { $0 != UInt8(ascii: "\n") }
        self.summary = String(decoding: firstLine.last == UInt8(ascii: "\r") ? firstLine.dropLast() : firstLine,
                              as: UTF8.self)
        self.signature = signature
    }

    /// Whether this commit merges two or more lines of history.
    public var isMerge: Bool { parents.count > 1 }
}

/// A commit's signature (the `gpgsig` header, without its continuation spaces) and the exact bytes it
/// signs (the commit object without that header), as `git_commit_extract_signature` returns them.
public struct CommitSignature: Sendable, Hashable {
    /// The armored signature, e.g. `-----BEGIN PGP SIGNATURE----- …`.
    public var signature: String
    /// The signed commit text: the commit object with the signature header removed.
    public var signedData: String

    public init(signature: String, signedData: String) {
        self.signature = signature
        self.signedData = signedData
    }
}

extension Repository {
    /// Reads the commit with the given id.
    public func commit(_ id: ObjectID) throws -> CommitInfo {
        var oid = id.oid
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, handle, &oid), "git_commit_lookup")
        defer { git_commit_free(commit) }

        let parents = (0..<git_commit_parentcount(commit)).map { ObjectID(git_commit_parent_id(commit, $0)) }
        return CommitInfo(
            id: ObjectID(git_commit_id(commit)),
            treeID: ObjectID(git_commit_tree_id(commit)),
            parents: parents,
            author: GitSignature(git_commit_author(commit)),
            committer: GitSignature(git_commit_committer(commit)),
            rawMessage: copyBytes(git_commit_message_raw(commit)),
            signature: try signature(of: id)
        )
    }

    /// The commit's `gpgsig` signature, or nil when it has none.
    func signature(of id: ObjectID) throws -> CommitSignature? {
        var oid = id.oid
        var signature = git_buf()
        var signedData = git_buf()
        defer {
            git_buf_dispose(&signature)
            git_buf_dispose(&signedData)
        }
        let result = git_commit_extract_signature(&signature, &signedData, handle, &oid, nil)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "git_commit_extract_signature")
        return CommitSignature(signature: decode(signature), signedData: decode(signedData))
    }
}

private func decode(_ buffer: git_buf) -> String {
    guard let pointer = buffer.ptr else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: buffer.size), as: UTF8.self)
}
