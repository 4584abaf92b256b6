import Foundation
import InterlockGit
import Testing

@Suite("Resolving revisions")
struct ResolveTests {
    @Test func linearHistoryResolvesRevisionsAndReadsMetadata() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        try fixture.write("a.txt", "one\n")
        let first = try fixture.commitAll("First commit", when: .init(seconds: 1_700_000_000, zone: "+0100"))
        try fixture.write("a.txt", "two\n")
        let second = try fixture.commitAll(
            "Second commit\n\nWith a body line.", when: .init(seconds: 1_700_003_600, zone: "-0500"),
            author: ("Ada Author", "ada@example.org"), committer: ("Carl Committer", "carl@example.org"))
        try fixture.write("b.txt", "three\n")
        let third = try fixture.commitAll("Third commit")

        let repository = try Repository.open(at: path)
        #expect(!repository.isBare)
        #expect(!repository.isEmpty)
        #expect(try repository.resolve("HEAD").id == third)
        #expect(try repository.resolve("HEAD~2").id == first)
        #expect(try repository.resolve("main").id == third)
        #expect(try repository.resolve("refs/heads/main~1").id == second)
        #expect(try repository.resolve(second.hex).id == second)
        #expect(try repository.resolve(first.abbreviated(7)).id == first)

        let root = try repository.commit(first)
        #expect(root.parents.isEmpty)
        #expect(root.author.name == GitFixture.authorName)
        #expect(root.author.email == GitFixture.authorEmail)
        #expect(root.author.time == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(root.author.offsetMinutes == 60)
        #expect(root.author.description == "Jane Doe <jane@example.com> 2023-11-14 23:13:20 +0100")
        #expect(root.treeID == (try fixture.revParse("\(first.hex)^{tree}")))
        #expect(root.message == "First commit\n")
        #expect(root.summary == "First commit")
        #expect(root.signature == nil)

        let middle = try repository.commit(second)
        #expect(middle.parents == [first])
        #expect(middle.author.name == "Ada Author")
        #expect(middle.author.email == "ada@example.org")
        #expect(middle.author.offsetMinutes == -300)
        #expect(middle.author.offsetText == "-0500")
        #expect(middle.author.description == "Ada Author <ada@example.org> 2023-11-14 18:13:20 -0500")
        #expect(middle.committer.name == "Carl Committer")
        #expect(middle.committer.email == "carl@example.org")
        #expect(middle.committer.time == Date(timeIntervalSince1970: 1_700_003_600))
        #expect(middle.message == "Second commit\n\nWith a body line.\n")
        #expect(middle.rawMessage == Array("Second commit\n\nWith a body line.\n".utf8))
        #expect(middle.summary == "Second commit")

        #expect(try repository.commits(from: nil, to: third).map(\.id) == [third, second, first])
        #expect(try repository.commits(from: first, to: third).map(\.id) == [third, second])
        #expect(try repository.commits(from: third, to: third).isEmpty)
    }

    @Test func annotatedAndLightweightTagsResolveToTheirCommit() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        try fixture.write("a.txt", "one\n")
        let first = try fixture.commitAll("First")
        try fixture.write("a.txt", "two\n")
        let second = try fixture.commitAll("Second")
        try fixture.git(["tag", "light", first.hex])
        try fixture.git(["tag", "-a", "v1.0.0", "-m", "Release 1.0.0", second.hex])
        let tagObject = try fixture.revParse("v1.0.0")
        #expect(tagObject != second)  // an annotated tag is an object of its own

        let repository = try Repository.open(at: path)
        #expect(try repository.resolve("light").id == first)
        #expect(try repository.resolve("refs/tags/light").id == first)
        #expect(try repository.resolve("v1.0.0").id == second)
        #expect(try repository.resolve(tagObject.hex).id == second)
        #expect(try repository.resolve("v1.0.0~1").id == first)
    }

    @Test func missingRevisionNamesTheRevisionAndHints() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        try fixture.write("a.txt", "one\n")
        try fixture.commitAll("First")
        let repository = try Repository.open(at: path)

        let error = try #require(throws: GitError.self) { try repository.resolve("no-such-branch") }
        #expect(error.function == "git_revparse_single")
        #expect(error.code == -3)
        #expect(error.isNotFound)
        #expect(error.message.contains("'no-such-branch'"))
        #expect(error.hint == "check the branch, tag or commit id (git log --oneline)")
        #expect(error.description.hasPrefix("git_revparse_single failed (reference, code -3): revision 'no-such-branch'"))
        #expect(error.libgit2Message?.isEmpty == false)

        let tooFar = try #require(throws: GitError.self) { try repository.resolve("HEAD~5") }
        #expect(tooFar.message.contains("'HEAD~5'"))
    }

    @Test func unknownCommitIDIsNotFound() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        try fixture.write("a.txt", "one\n")
        try fixture.commitAll("First")
        let repository = try Repository.open(at: path)
        let unknown = try #require(ObjectID(hex: String(repeating: "ab", count: 20)))
        let error = try #require(throws: GitError.self) { try repository.commit(unknown) }
        #expect(error.function == "git_commit_lookup")
        #expect(error.isNotFound)
        #expect(error.className == "odb")
    }

    @Test func revisionNamingATreeIsNotACommit() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        try fixture.write("a.txt", "one\n")
        try fixture.commitAll("First")
        let repository = try Repository.open(at: path)
        let error = try #require(throws: GitError.self) { try repository.resolve("HEAD^{tree}") }
        #expect(error.function == "git_object_peel")
        #expect(error.message.contains("names a tree, not a commit"))
    }

    @Test func emptyRepositoryHasNoCommitsToResolve() throws {
        let fixture = try GitFixture()
        for bare in [false, true] {
            let path = try fixture.makeRepository(bare ? "empty.git" : "empty", bare: bare)
            let repository = try Repository.open(at: path)
            #expect(repository.isEmpty)
            #expect(repository.isBare == bare)
            let error = try #require(throws: GitError.self) { try repository.resolve("HEAD") }
            #expect(error.function == "git_revparse_single")
            #expect(error.message.contains("has no commits yet"))
            #expect(error.message.contains("'HEAD'"))
            let branch = try #require(throws: GitError.self) { try repository.resolve("main") }
            #expect(branch.message.contains("has no commits yet"))
        }
    }
}
