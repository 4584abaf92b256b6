import Foundation
import InterlockGit
import Testing

@Suite("History and changed paths")
struct HistoryTests {
    /// main: base → mainChange → merge; feature: base → featureChange (merged with --no-ff).
    private struct MergeHistory {
        var base, featureChange, mainChange, merge: ObjectID
    }

    private func makeMergeHistory(_ fixture: GitFixture) throws -> MergeHistory {
        try fixture.makeRepository()
        try fixture.write("a.txt", "alpha\n")
        try fixture.write("c.txt", "gamma\n")
        try fixture.write("keep/k.txt", "kept\n")
        let base = try fixture.commitAll("Base", when: .init(seconds: 1_700_000_000))
        try fixture.git(["checkout", "-q", "-b", "feature"])
        try fixture.write("b.txt", "beta\n")
        let featureChange = try fixture.commitAll("Add b", when: .init(seconds: 1_700_000_100))
        try fixture.git(["checkout", "-q", "main"])
        try fixture.write("a.txt", "alpha 2\n")
        try FileManager.default.removeItem(atPath: fixture.path("repo/c.txt"))
        let mainChange = try fixture.commitAll("Change a, drop c", when: .init(seconds: 1_700_000_200))
        try fixture.git(["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"],
                        when: .init(seconds: 1_700_000_300))
        let merge = try fixture.revParse("HEAD")
        return MergeHistory(base: base, featureChange: featureChange, mainChange: mainChange, merge: merge)
    }

    @Test func mergeCommitHasTwoParentsAndSecondParentResolves() throws {
        let fixture = try GitFixture()
        let history = try makeMergeHistory(fixture)
        let repository = try Repository.open(at: fixture.path("repo"))

        let merge = try repository.resolve("main")
        #expect(merge.id == history.merge)
        #expect(merge.isMerge)
        #expect(merge.parents == [history.mainChange, history.featureChange])
        #expect(try repository.resolve("main^2").id == history.featureChange)
        #expect(try repository.resolve("main^1").id == history.mainChange)
        #expect(try repository.resolve("main~2").id == history.base)
    }

    @Test func commitsBetweenListsExactlyTheNewCommitsNewestFirst() throws {
        let fixture = try GitFixture()
        let history = try makeMergeHistory(fixture)
        let repository = try Repository.open(at: fixture.path("repo"))

        let listed = try repository.commits(from: history.base, to: history.merge).map(\.id)
        #expect(Set(listed) == [history.merge, history.mainChange, history.featureChange])
        #expect(listed.count == 3)
        #expect(listed.first == history.merge)
        #expect(listed == [history.merge, history.mainChange, history.featureChange])  // newer first

        let cliOrder = try fixture.git(["rev-list", "\(history.base.hex)..\(history.merge.hex)"])
            .split(separator: "\n").compactMap { ObjectID(hex: String($0)) }
        #expect(Set(cliOrder) == Set(listed))

        #expect(try repository.commits(from: history.featureChange, to: history.merge).map(\.id)
            == [history.merge, history.mainChange])
        #expect(try repository.commits(from: nil, to: history.merge).count == 4)
    }

    @Test func changedPathsListsAddedModifiedAndDeletedSortedByPath() throws {
        let fixture = try GitFixture()
        let history = try makeMergeHistory(fixture)
        let repository = try Repository.open(at: fixture.path("repo"))

        let changes = try repository.changedPaths(from: history.base, to: history.merge)
        #expect(changes.map(\.path) == ["a.txt", "b.txt", "c.txt"])
        #expect(changes.map(\.kind) == [.modified, .added, .deleted])
        #expect(changes.allSatisfy { $0.oldPath == nil && $0.rawPath == Array($0.path.utf8) })

        let fromNothing = try repository.changedPaths(from: nil, to: history.base)
        #expect(fromNothing.map(\.path) == ["a.txt", "c.txt", "keep/k.txt"])
        #expect(fromNothing.allSatisfy { $0.kind == .added })

        // Tree ids work as well as commit ids.
        let baseTree = try repository.commit(history.base).treeID
        let mergeTree = try repository.commit(history.merge).treeID
        #expect(try repository.changedPaths(from: baseTree, to: mergeTree) == changes)
        #expect(try repository.changedPaths(from: history.merge, to: history.merge).isEmpty)
    }

    @Test func changedPathsReportsTypeChangesAndOptionalRenames() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository()
        try fixture.write("config/app.yaml", String(repeating: "replicas: 3\nimage: app:1.0\n", count: 20))
        try fixture.write("target.txt", "t\n")
        try fixture.write("switch", "a plain file\n")
        let before = try fixture.commitAll("Before")
        try fixture.git(["mv", "config/app.yaml", "config/application.yaml"])
        try FileManager.default.removeItem(atPath: fixture.path("repo/switch"))
        try FileManager.default.createSymbolicLink(atPath: fixture.path("repo/switch"), withDestinationPath: "target.txt")
        let after = try fixture.commitAll("After")
        let repository = try Repository.open(at: fixture.path("repo"))

        let plain = try repository.changedPaths(from: before, to: after)
        #expect(plain.map(\.path) == ["config/app.yaml", "config/application.yaml", "switch"])
        #expect(plain.map(\.kind) == [.deleted, .added, .typeChanged])

        let renamed = try repository.changedPaths(from: before, to: after, detectRenames: true)
        #expect(renamed.map(\.kind) == [.renamed, .typeChanged])
        #expect(renamed.first?.path == "config/application.yaml")
        #expect(renamed.first?.oldPath == "config/app.yaml")
    }
}

@Suite struct AncestryTests {
    @Test func aCommitContainsItsAncestorsAndItself() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        try fixture.write("a.txt", "1")
        let first = try fixture.commitAll("first")
        try fixture.write("a.txt", "2")
        let second = try fixture.commitAll("second")
        let repository = try Repository.open(at: path)
        #expect(try repository.contains(first, in: second))
        #expect(try repository.contains(second, in: second))
        #expect(try !repository.contains(second, in: first))
    }
}
