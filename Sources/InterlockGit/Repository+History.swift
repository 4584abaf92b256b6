import CLibGit2

extension Repository {
    /// The commits reachable from `to` but not from `from` (`git log from..to`), merges included,
    /// newest first in topological order (a commit always comes before its parents).
    /// A nil `from` lists the whole history of `to`.
    public func commits(from: ObjectID?, to: ObjectID, limit: Int = .max) throws -> [CommitInfo] {
        var walk: OpaquePointer?
        try check(git_revwalk_new(&walk, handle), "git_revwalk_new")
        defer { git_revwalk_free(walk) }
        try check(git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue),
                  "git_revwalk_sorting")
        var tip = to.oid
        try check(git_revwalk_push(walk, &tip), "git_revwalk_push")
        if let from {
            var base = from.oid
            try check(git_revwalk_hide(walk, &base), "git_revwalk_hide")
        }
        var result: [CommitInfo] = []
        var next = git_oid()
        while result.count < limit {
            let step = git_revwalk_next(&next, walk)
            if step == GIT_ITEROVER.rawValue { break }
            try check(step, "git_revwalk_next")
            result.append(try commit(ObjectID(next)))
        }
        return result
    }

    /// Whether `descendant` contains `ancestor` in its history (a commit contains itself).
    public func contains(_ ancestor: ObjectID, in descendant: ObjectID) throws -> Bool {
        if ancestor == descendant { return true }
        var commit = descendant.oid, base = ancestor.oid
        let result = git_graph_descendant_of(handle, &commit, &base)
        try check(result, "git_graph_descendant_of")
        return result == 1
    }

    /// The paths that differ between two trees, sorted by their bytes. `from` and `to` may name commits
    /// or trees (commits are peeled to their trees); a nil `from` is the empty tree, so every path of
    /// `to` is `added`. With `detectRenames`, a deleted and an added path with similar content become one
    /// `renamed` change; otherwise they stay a deletion and an addition.
    public func changedPaths(from: ObjectID?, to: ObjectID, detectRenames: Bool = false) throws -> [PathChange] {
        let newTree = try peeledObject(to, to: GIT_OBJECT_TREE)
        defer { git_object_free(newTree) }
        let oldTree = try from.map { try peeledObject($0, to: GIT_OBJECT_TREE) }
        defer { if let oldTree { git_object_free(oldTree) } }

        var options = git_diff_options()
        try check(git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), "git_diff_options_init")
        options.flags |= GIT_DIFF_INCLUDE_TYPECHANGE.rawValue
        var diff: OpaquePointer?
        try check(git_diff_tree_to_tree(&diff, handle, oldTree, newTree, &options), "git_diff_tree_to_tree")
        defer { git_diff_free(diff) }

        if detectRenames {
            var find = git_diff_find_options()
            try check(git_diff_find_options_init(&find, UInt32(GIT_DIFF_FIND_OPTIONS_VERSION)),
                      "git_diff_find_options_init")
            find.flags = GIT_DIFF_FIND_RENAMES.rawValue
            try check(git_diff_find_similar(diff, &find), "git_diff_find_similar")
        }

        var changes: [PathChange] = []
        for index in 0..<git_diff_num_deltas(diff) {
            guard let delta = git_diff_get_delta(diff, index)?.pointee else { continue }
            let oldPath = copyBytes(delta.old_file.path)
            let newPath = copyBytes(delta.new_file.path)
            switch delta.status {
            case GIT_DELTA_ADDED, GIT_DELTA_COPIED: changes.append(PathChange(kind: .added, rawPath: newPath))
            case GIT_DELTA_MODIFIED: changes.append(PathChange(kind: .modified, rawPath: newPath))
            case GIT_DELTA_DELETED: changes.append(PathChange(kind: .deleted, rawPath: oldPath))
            case GIT_DELTA_TYPECHANGE: changes.append(PathChange(kind: .typeChanged, rawPath: newPath))
            case GIT_DELTA_RENAMED:
                changes.append(PathChange(kind: .renamed, rawPath: newPath, oldRawPath: oldPath))
            default: continue  // unmodified, ignored, untracked …: not produced by a tree-to-tree diff
            }
        }
        return changes.sorted { $0.rawPath.lexicographicallyPrecedes($1.rawPath) }
    }
}
