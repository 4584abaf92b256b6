import Foundation
import HashTreeCollections

/// The complete content of one tree — every file's bytes and every directory's object id — held in memory.
///
/// A snapshot is a plain value: it is made from a git commit (`Repository.snapshot(of:)`) or from a
/// directory on disk (`Snapshot.directory(at:)`), and nothing in it refers back to libgit2.
/// Paths use `/` as separator and never start with one; the root directory is `""`.
public struct Snapshot: Sendable {
    /// One file of the tree.
    public struct File: Sendable, Hashable {
        /// The path as stored in git, exactly (it need not be valid UTF-8).
        public var rawPath: [UInt8]
        /// The blob's object id (for a directory snapshot: the id git would give the content).
        public var blobID: ObjectID?
        /// The git file mode (`0o100644`, `0o100755`, `0o120000` for a symbolic link).
        public var mode: UInt32
        /// The file's bytes; empty while `isLoaded` is false.
        public var content: Data {
            didSet { isLoaded = true }
        }
        /// Whether `content` holds the file's bytes. False for the files of an outline
        /// (`Repository.outline(of:loading:)`) that were not loaded yet: `Repository.loadContent(of:in:)` fills them.
        public private(set) var isLoaded: Bool

        public init(rawPath: [UInt8], blobID: ObjectID?, mode: UInt32, content: Data) {
            self.rawPath = rawPath
            self.blobID = blobID
            self.mode = mode
            self.content = content
            isLoaded = true
        }

        /// A file of an outline whose bytes are not read yet.
        public init(unloaded rawPath: [UInt8], blobID: ObjectID, mode: UInt32) {
            self.rawPath = rawPath
            self.blobID = blobID
            self.mode = mode
            content = Data()
            isLoaded = false
        }

        /// The path decoded as UTF-8; invalid sequences become U+FFFD.
        public var path: String { String(decoding: rawPath, as: UTF8.self) }
        /// Whether the stored path is valid UTF-8 (so `path` is exact).
        public var pathIsValidUTF8: Bool { String(validating: rawPath, as: UTF8.self) != nil }
        /// Whether this entry is a symbolic link rather than a regular file.
        public var isSymbolicLink: Bool { mode == 0o120000 }
    }

    /// The commit the snapshot was read from, if any.
    public var commitID: ObjectID?
    /// Files keyed by their (lossily decoded) path. A persistent hash tree: a snapshot made from another
    /// by changing a few files shares everything else with it, so neither copying nor freeing one costs
    /// time in proportion to the whole repository.
    public var files: TreeDictionary<String, File>
    /// Directory path (`""` for the root) → tree object id. Empty for directory snapshots.
    public var trees: TreeDictionary<String, ObjectID>

    public init(commitID: ObjectID? = nil, files: TreeDictionary<String, File>, trees: TreeDictionary<String, ObjectID> = [:]) {
        self.commitID = commitID
        self.files = files
        self.trees = trees
    }

    public init(commitID: ObjectID? = nil, files: [String: File], trees: [String: ObjectID] = [:]) {
        self.init(commitID: commitID, files: TreeDictionary(files), trees: TreeDictionary(trees))
    }

    /// The bytes of the file at `path`, if present and loaded.
    public func content(at path: String) -> Data? {
        guard let file = files[path], file.isLoaded else { return nil }
        return file.content
    }

    /// Whether every file's bytes are in memory (false for an outline).
    public var isFullyLoaded: Bool { files.values.allSatisfy(\.isLoaded) }

    /// Paths of the files directly or indirectly below `directory` (no trailing slash), sorted.
    public func paths(under directory: String) -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        return files.keys.filter { $0.hasPrefix(prefix) }.sorted()
    }

    /// Total size of all loaded file contents in bytes.
    public var totalBytes: Int { files.values.reduce(0) { $0 + $1.content.count } }
}
