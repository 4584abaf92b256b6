import Foundation
import InterlockGit
import Testing

@Suite("Updating snapshots by reusing unchanged subtrees")
struct SnapshotUpdateTests {
    private func expectSame(_ update: SnapshotUpdate, _ fresh: Snapshot, changed: [String]) {
        #expect(update.snapshot.commitID == fresh.commitID)
        #expect(update.snapshot.files == fresh.files)
        #expect(update.snapshot.trees == fresh.trees)
        #expect(update.changedPaths == changed)
    }

    @Test func updateEqualsAFreshReadAfterEditsAdditionsDeletionsAndTypeChanges() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository()
        try fixture.write("README.md", "# Plant\n")
        try fixture.write("sites/a/site.yaml", "name: a\n")
        try fixture.write("sites/b/site.yaml", "name: b\n")
        try fixture.write("sites/b/overrides/x.yaml", "x: 1\n")
        try fixture.write("components/c.yaml", "name: c\n")
        try fixture.write("components/c/t.conf", "t\n")
        try fixture.write("thing", "a file that becomes a directory\n")
        let first = try fixture.commitAll("First")
        let repository = try Repository.open(at: fixture.path("repo"))
        let before = try repository.snapshot(of: first)

        try fixture.write("sites/a/site.yaml", "name: a\nvalues: {}\n")                 // modified
        try fixture.write("sites/d/site.yaml", "name: d\n")                              // added directory
        try FileManager.default.removeItem(atPath: fixture.path("repo/sites/b/overrides")) // removed directory
        try fixture.write("bin/run.sh", "#!/bin/sh\n", executable: true)                // added, executable
        try FileManager.default.removeItem(atPath: fixture.path("repo/thing"))
        try fixture.write("thing/inside", "now a directory\n")                           // type change
        let second = try fixture.commitAll("Second")

        let update = try repository.snapshotUpdate(of: second, reusing: before)
        expectSame(update, try repository.snapshot(of: second), changed: [
            "bin/run.sh", "sites/a/site.yaml", "sites/b/overrides/x.yaml", "sites/d/site.yaml", "thing", "thing/inside",
        ])
        #expect(update.base == first)
        #expect(update.snapshot.trees["sites/b/overrides"] == nil)

        // And back: a directory becomes a file again, removed files return.
        let back = try repository.snapshotUpdate(of: first, reusing: update.snapshot)
        expectSame(back, before, changed: update.changedPaths)
    }

    @Test func anUnchangedTreeGivesTheSameFilesAndNoChanges() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository()
        try fixture.write("a/b.yaml", "b: 1\n")
        let first = try fixture.commitAll("First")
        let second = try fixture.commitAll("Empty commit, same tree")
        let repository = try Repository.open(at: fixture.path("repo"))
        let update = try repository.snapshotUpdate(of: second, reusing: try repository.snapshot(of: first))
        expectSame(update, try repository.snapshot(of: second), changed: [])
    }
}
