/// How a path differs between two trees.
public enum PathChangeKind: String, Sendable {
    case added, modified, deleted, renamed, typeChanged
}

/// One path that differs between two trees (see `Repository.changedPaths(from:to:)`).
public struct PathChange: Sendable, Hashable {
    /// What happened to the path.
    public var kind: PathChangeKind
    /// The path after the change (for a deletion: the deleted path), lossily decoded.
    public var path: String
    /// The path before a rename; nil otherwise.
    public var oldPath: String?
    /// `path` exactly as stored in git (it need not be valid UTF-8).
    public var rawPath: [UInt8]

    public init(kind: PathChangeKind, path: String, oldPath: String? = nil, rawPath: [UInt8]) {
        self.kind = kind
        self.path = path
        self.oldPath = oldPath
        self.rawPath = rawPath
    }

    /// Makes a change from raw path bytes.
    public init(kind: PathChangeKind, rawPath: [UInt8], oldRawPath: [UInt8]? = nil) {
        self.init(kind: kind, path: String(decoding: rawPath, as: UTF8.self),
                  oldPath: oldRawPath.map { String(decoding: $0, as: UTF8.self) }, rawPath: rawPath)
    }
}
