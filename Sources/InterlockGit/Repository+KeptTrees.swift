import CLibGit2
import HashTreeCollections

/// Parsed trees of large directories, kept by a `Repository` from one snapshot read to the next.
///
/// A flat directory of 80,000 component files is one 4 MB tree: inflating and parsing it costs more than everything
/// else an incremental update does. An update compares the new tree of a changed directory with the previous one, so
/// the repository keeps the parsed trees of large directories (`minimumEntries` or more) from its latest read and
/// takes the previous tree from here instead of reading it again. Only one generation is kept: after a read, trees no
/// longer in the snapshot are freed, so their memory is reused by the next read rather than fresh pages being mapped
/// (libgit2's own object cache would keep every version it has seen).
struct KeptTrees {
    /// Directories with fewer entries are cheap to read again and are not kept.
    static let minimumEntries = 512

    /// Each kept tree by its directory path, with its id; every pointer is owned (freed on removal).
    private(set) var byPath: [String: (id: ObjectID, tree: OpaquePointer)] = [:]

    /// A new reference to the tree kept for `path`, when it is the tree `id`; the caller frees it.
    func tree(at path: String, id: ObjectID) -> OpaquePointer? {
        guard let kept = byPath[path], kept.id == id else { return nil }
        var copy: OpaquePointer?
        guard git_object_dup(&copy, kept.tree) == 0 else { return nil }
        return copy
    }

    /// Keeps the trees a read retained (leaving `retained` empty) and those already kept that the new snapshot's
    /// directories (`trees`) still hold at the same path; frees the rest.
    mutating func replace(taking retained: inout RetainedTrees, stillIn trees: TreeDictionary<String, ObjectID>) {
        var next = retained.trees
        retained.trees = [:]
        for (path, kept) in byPath {
            if next[path] == nil, trees[path] == kept.id {
                next[path] = kept
            } else {
                git_tree_free(kept.tree)
            }
        }
        byPath = next
    }

    mutating func removeAll() {
        for kept in byPath.values { git_tree_free(kept.tree) }
        byPath = [:]
    }
}

/// The large trees one read parsed, to be handed to `KeptTrees.replace` when the read succeeds (freed otherwise).
struct RetainedTrees {
    var trees: [String: (id: ObjectID, tree: OpaquePointer)] = [:]

    /// Retains `tree` (read at `path`) when it is large enough to be worth keeping.
    mutating func consider(_ tree: OpaquePointer, at path: String) {
        guard git_tree_entrycount(tree) >= KeptTrees.minimumEntries, trees[path] == nil else { return }
        var copy: OpaquePointer?
        guard git_object_dup(&copy, tree) == 0, let copy else { return }
        trees[path] = (ObjectID(git_tree_id(tree)), copy)
    }

    /// Frees everything retained (a read that failed).
    mutating func release() {
        for retained in trees.values { git_tree_free(retained.tree) }
        trees = [:]
    }
}
