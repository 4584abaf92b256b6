import CLibGit2
import Foundation
import HashTreeCollections

extension Repository {
    /// Reads the whole tree of a commit (or of a tree id) into memory: every file's bytes, mode and blob
    /// id, and every directory's tree id (the root is `""`). No work tree is involved; submodule entries
    /// are skipped. Paths that are not valid UTF-8 are kept exactly in `Snapshot.File.rawPath`.
    public func snapshot(of commit: ObjectID) throws -> Snapshot {
        try read(commit, loading: nil, keepingTrees: true)
    }

    /// Reads a commit's tree like `snapshot(of:)`: every path, mode and blob id, and every directory's tree id, but
    /// the bytes only of the files `loading` accepts. The others stay unloaded (`Snapshot.File.isLoaded` is false)
    /// until `loadContent(of:in:)` fills them, so a tool can work through a large repository part by part: the
    /// outline of a 120,000-file repository holds its paths and ids, not its 200 MB of content. The large trees it
    /// parses are not kept for a later update (a reconcile loop's first read goes through `snapshotUpdate`).
    public func outline(of commit: ObjectID, loading: (String) -> Bool) throws -> Snapshot {
        try withoutActuallyEscaping(loading) { try read(commit, loading: $0, keepingTrees: false) }
    }

    /// Reads the bytes of the files at `paths` into `snapshot`, an outline this repository read. Paths that are not
    /// in the snapshot or are loaded already are skipped; an error when a blob cannot be read.
    public func loadContent(of paths: some Sequence<String>, in snapshot: inout Snapshot) throws {
        let blobs = try BlobReader(repository: handle)
        defer { blobs.close() }
        for path in paths {
            guard var file = snapshot.files[path], !file.isLoaded, let id = file.blobID else { continue }
            var oid = id.oid
            file.content = try blobs.content(of: &oid)
            snapshot.files[path] = file
        }
    }

    func read(_ commit: ObjectID, loading: ((String) -> Bool)?, keepingTrees: Bool) throws -> Snapshot {
        var oid = commit.oid
        var object: OpaquePointer?
        try check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_ANY), "git_object_lookup")
        let isCommit = git_object_type(object) == GIT_OBJECT_COMMIT
        git_object_free(object)

        let root = try peeledObject(commit, to: GIT_OBJECT_TREE)
        defer { git_object_free(root) }
        var reader = TreeReader(repository: handle, blobs: try BlobReader(repository: handle), loading: loading)
        defer {
            reader.retained.release()
            reader.blobs.close()
        }
        reader.trees[""] = ObjectID(git_tree_id(root))
        reader.retained.consider(root, at: "")
        try reader.read(root)
        if keepingTrees { keptTrees.replace(taking: &reader.retained, stillIn: reader.trees) }
        return Snapshot(commitID: isCommit ? commit : nil, files: reader.files, trees: reader.trees)
    }
}

/// Walks a tree depth-first, building each entry's path in one reused buffer.
private struct TreeReader {
    let repository: OpaquePointer
    let blobs: BlobReader
    /// Which files to read the bytes of; nil reads all.
    let loading: ((String) -> Bool)?
    var files: TreeDictionary<String, Snapshot.File> = [:]
    var trees: TreeDictionary<String, ObjectID> = [:]
    /// Large trees read, for the repository to keep for the next update.
    var retained = RetainedTrees()
    private var path: [UInt8] = []

    init(repository: OpaquePointer, blobs: BlobReader, loading: ((String) -> Bool)? = nil) {
        self.repository = repository
        self.blobs = blobs
        self.loading = loading
        path.reserveCapacity(256)
    }

    mutating func read(_ tree: OpaquePointer) throws {
        for index in 0..<git_tree_entrycount(tree) {
            guard let entry = git_tree_entry_byindex(tree, index) else { continue }
            let parentLength = path.count
            defer { path.removeLast(path.count - parentLength) }
            if parentLength > 0 { path.append(UInt8(ascii: "/")) }
            if let name = git_tree_entry_name(entry) {
                path.append(contentsOf: UnsafeRawBufferPointer(start: name, count: strlen(name)))
            }
            let id = git_tree_entry_id(entry)!
            switch git_tree_entry_type(entry) {
            case GIT_OBJECT_BLOB:
                try readBlob(id, mode: git_tree_entry_filemode(entry).rawValue)
            case GIT_OBJECT_TREE:
                let key = String(decoding: path, as: UTF8.self)
                trees[key] = ObjectID(id)
                var subtree: OpaquePointer?
                try check(git_tree_lookup(&subtree, repository, id), "git_tree_lookup")
                defer { git_tree_free(subtree) }
                retained.consider(subtree!, at: key)
                try read(subtree!)
            default:
                continue  // a submodule (commit entry): its content lives in another repository
            }
        }
    }

    private mutating func readBlob(_ id: UnsafePointer<git_oid>, mode: UInt32) throws {
        let rawPath = path.exactCopy()
        let key = String(decoding: rawPath, as: UTF8.self)
        if let loading, !loading(key) {
            files[key] = Snapshot.File(unloaded: rawPath, blobID: ObjectID(id), mode: mode)
            return
        }
        files[key] = Snapshot.File(rawPath: rawPath, blobID: ObjectID(id), mode: mode, content: try blobs.content(of: id))
    }
}

extension [UInt8] {
    /// A copy in storage of its own, exactly as large as its content. A tree walk builds every path in one buffer
    /// reserved for long paths: a file keeping that buffer would hold a few hundred bytes for a forty-byte path,
    /// and the walk would allocate a fresh buffer for the next path anyway.
    func exactCopy() -> [UInt8] { withUnsafeBufferPointer { Array($0) } }
}
