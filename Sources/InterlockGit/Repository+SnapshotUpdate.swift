import CLibGit2
import Foundation
import HashTreeCollections

/// A snapshot read by reusing an earlier one, with the paths that differ between the two.
public struct SnapshotUpdate: Sendable {
    /// The commit the earlier snapshot was read from (nil when it had none).
    public var base: ObjectID?
    /// The new snapshot, equal to what `Repository.snapshot(of:)` returns for the same commit.
    public var snapshot: Snapshot
    /// Files added, removed or changed (content or mode) since the earlier snapshot, sorted.
    public var changedPaths: [String]

    public init(base: ObjectID?, snapshot: Snapshot, changedPaths: [String]) {
        self.base = base
        self.snapshot = snapshot
        self.changedPaths = changedPaths
    }
}

extension Repository {
    /// Reads the tree of `commit` like `snapshot(of:)`, but takes every subtree whose object id equals the
    /// one at the same path in `previous` (and every blob with an unchanged id) from `previous` instead of
    /// reading it again: the work is proportional to what changed, not to the size of the tree.
    ///
    /// `previous` must have been read from this repository (its `trees` and blob ids are trusted). When it has no
    /// trees (a first read), the whole tree is read: only the files `loading` accepts with their bytes when given
    /// (an outline, see `outline(of:loading:)`). Files an update reads are always loaded.
    public func snapshotUpdate(of commit: ObjectID, reusing previous: Snapshot, loading: ((String) -> Bool)? = nil) throws -> SnapshotUpdate {
        guard let previousRoot = previous.trees[""] else {
            let fresh = try read(commit, loading: loading, keepingTrees: true)
            return SnapshotUpdate(base: previous.commitID, snapshot: fresh, changedPaths: fresh.files.keys.sorted())
        }
        var oid = commit.oid
        var object: OpaquePointer?
        try check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_ANY), "git_object_lookup")
        let isCommit = git_object_type(object) == GIT_OBJECT_COMMIT
        git_object_free(object)
        let root = try peeledObject(commit, to: GIT_OBJECT_TREE)
        defer { git_object_free(root) }
        var result = previous
        result.commitID = isCommit ? commit : nil
        let rootID = ObjectID(git_tree_id(root))
        guard rootID != previousRoot else {
            return SnapshotUpdate(base: previous.commitID, snapshot: result, changedPaths: [])
        }
        var walker = TreeUpdater(
            repository: handle, blobs: try BlobReader(repository: handle), kept: keptTrees, previous: previous,
            files: previous.files, trees: previous.trees)
        defer {
            walker.retained.release()
            walker.blobs.close()
        }
        walker.trees[""] = rootID
        walker.retained.consider(root, at: "")
        try walker.update(root, previousTree: previousRoot)
        result.files = walker.files
        result.trees = walker.trees
        keptTrees.replace(taking: &walker.retained, stillIn: walker.trees)
        return SnapshotUpdate(base: previous.commitID, snapshot: result, changedPaths: walker.changed.sorted())
    }

    /// `snapshotUpdate(of:reusing:)` without the list of changes.
    public func snapshot(of commit: ObjectID, reusing previous: Snapshot) throws -> Snapshot {
        try snapshotUpdate(of: commit, reusing: previous).snapshot
    }
}

/// Descends only into subtrees whose ids differ from the previous snapshot's.
private struct TreeUpdater {
    let repository: OpaquePointer
    let blobs: BlobReader
    /// Parsed trees of the repository's previous read: an old tree found here is not read again.
    let kept: KeptTrees
    let previous: Snapshot
    var files: TreeDictionary<String, Snapshot.File>
    var trees: TreeDictionary<String, ObjectID>
    var changed = Set<String>()
    /// Large new trees, for the repository to keep for the next update.
    var retained = RetainedTrees()
    private var path: [UInt8] = []

    init(repository: OpaquePointer, blobs: BlobReader, kept: KeptTrees, previous: Snapshot, files: TreeDictionary<String, Snapshot.File>, trees: TreeDictionary<String, ObjectID>) {
        self.repository = repository
        self.blobs = blobs
        self.kept = kept
        self.previous = previous
        self.files = files
        self.trees = trees
        path.reserveCapacity(256)
    }

    /// Updates the directory at `path` (whose new tree is `tree`) against the previous tree of that directory.
    /// Entries whose name, type and id are unchanged are skipped without building their paths.
    mutating func update(_ tree: OpaquePointer, previousTree: ObjectID?) throws {
        var oldTree: OpaquePointer?
        if let previousTree {
            oldTree = kept.byPath.isEmpty ? nil : kept.tree(at: String(decoding: path, as: UTF8.self), id: previousTree)
            if oldTree == nil {
                var oid = previousTree.oid
                try check(git_tree_lookup(&oldTree, repository, &oid), "git_tree_lookup")
            }
        }
        defer { if let oldTree { git_tree_free(oldTree) } }
        var matched = 0  // new entries whose name exists in the old tree
        // Both trees are sorted by name: while no entry was added or removed, the old entry is at the same place as
        // the new one, found without a search (a flat directory of 80,000 components changes one entry at a time).
        var cursor = 0
        let oldCount = oldTree.map { git_tree_entrycount($0) } ?? 0
        for index in 0..<git_tree_entrycount(tree) {
            guard let entry = git_tree_entry_byindex(tree, index), let name = git_tree_entry_name(entry) else { continue }
            var old: OpaquePointer?
            if let oldTree {
                if cursor < oldCount, let candidate = git_tree_entry_byindex(oldTree, cursor),
                   let candidateName = git_tree_entry_name(candidate), strcmp(candidateName, name) == 0 {
                    old = candidate
                    cursor += 1
                } else {
                    old = git_tree_entry_byname(oldTree, name)
                }
            }
            if let old {
                matched += 1
                if git_tree_entry_type(old) == git_tree_entry_type(entry), git_tree_entry_filemode(old) == git_tree_entry_filemode(entry),
                   git_oid_equal(git_tree_entry_id(old), git_tree_entry_id(entry)) != 0 {
                    continue
                }
            }
            let parentLength = path.count
            defer { path.removeLast(path.count - parentLength) }
            if parentLength > 0 { path.append(UInt8(ascii: "/")) }
            path.append(contentsOf: UnsafeRawBufferPointer(start: name, count: strlen(name)))
            let key = String(decoding: path, as: UTF8.self)
            let id = ObjectID(git_tree_entry_id(entry)!)
            switch git_tree_entry_type(entry) {
            case GIT_OBJECT_BLOB:
                let mode = git_tree_entry_filemode(entry).rawValue
                if trees[key] != nil { removeDirectory(key) }
                if let old = files[key], old.blobID == id, old.mode == mode { continue }
                try readBlob(git_tree_entry_id(entry)!, mode: mode, key: key)
            case GIT_OBJECT_TREE:
                if files[key] != nil { files[key] = nil; changed.insert(key) }
                let old = previous.trees[key]
                if old == id { continue }
                trees[key] = id
                var subtree: OpaquePointer?
                try check(git_tree_lookup(&subtree, repository, git_tree_entry_id(entry)!), "git_tree_lookup")
                defer { git_tree_free(subtree) }
                retained.consider(subtree!, at: key)
                try update(subtree!, previousTree: old)
            default:
                continue  // a submodule: not part of a snapshot
            }
        }
        // Entries of the previous tree that are gone now.
        guard let oldTree, matched < git_tree_entrycount(oldTree) else { return }
        for index in 0..<git_tree_entrycount(oldTree) {
            guard let entry = git_tree_entry_byindex(oldTree, index), let name = git_tree_entry_name(entry) else { continue }
            if git_tree_entry_byname(tree, name) != nil { continue }
            var full = path
            if !full.isEmpty { full.append(UInt8(ascii: "/")) }
            full.append(contentsOf: UnsafeRawBufferPointer(start: name, count: strlen(name)))
            let key = String(decoding: full, as: UTF8.self)
            if git_tree_entry_type(entry) == GIT_OBJECT_TREE {
                removeDirectory(key)
            } else if files[key] != nil {
                files[key] = nil
                changed.insert(key)
            }
        }
    }

    /// Drops a directory and everything below it.
    private mutating func removeDirectory(_ directory: String) {
        let prefix = directory + "/"
        for key in files.keys where key.hasPrefix(prefix) {
            files[key] = nil
            changed.insert(key)
        }
        for key in trees.keys where key == directory || key.hasPrefix(prefix) { trees[key] = nil }
    }

    private mutating func readBlob(_ id: UnsafePointer<git_oid>, mode: UInt32, key: String) throws {
        let content = try blobs.content(of: id)
        files[key] = Snapshot.File(rawPath: path.exactCopy(), blobID: ObjectID(id), mode: mode, content: content)
        changed.insert(key)
    }
}
