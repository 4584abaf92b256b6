import Foundation
import InterlockGit
import Testing

@Suite("Mirrors and fetching")
struct MirrorTests {
    private func makeOrigin(_ fixture: GitFixture) throws -> ObjectID {
        try fixture.makeRepository("origin")
        try fixture.write("app.yaml", "version: 1\n", in: "origin")
        let first = try fixture.commitAll("First", in: "origin")
        try fixture.git(["tag", "-a", "v1", "-m", "v1"], in: "origin")
        return first
    }

    private func checkMirrorFollowsOrigin(source: String, fixture: GitFixture) throws {
        let first = try makeOrigin(fixture)
        let mirrorPath = fixture.path("mirror.git")

        let mirror = try Repository.mirror(from: source, into: mirrorPath)
        #expect(mirror.isBare)
        #expect(!mirror.isEmpty)
        #expect(mirror.remoteNames() == ["origin"])
        #expect(try mirror.resolve("main").id == first)
        #expect(try mirror.resolve("HEAD").id == first)
        #expect(try mirror.resolve("origin/main").id == first)  // the mirror's own branch stands in
        #expect(try mirror.resolve("v1").id == first)
        let fetchspecs = try fixture.git(["config", "--get-all", "remote.origin.fetch"], in: "mirror.git")
        #expect(fetchspecs == Repository.mirrorRefspecs.joined(separator: "\n"))
        #expect(try fixture.git(["for-each-ref", "--format=%(refname)", "refs/remotes"], in: "mirror.git").isEmpty)

        // New commits, a new branch and a new tag on the origin arrive with fetch().
        try fixture.write("app.yaml", "version: 2\n", in: "origin")
        let second = try fixture.commitAll("Second", in: "origin")
        try fixture.git(["branch", "staging", first.hex], in: "origin")
        try fixture.git(["tag", "v2"], in: "origin")
        let summary = try mirror.fetch()
        #expect(summary.updatedRefs.contains("refs/heads/main"))
        #expect(summary.updatedRefs.contains("refs/heads/staging"))
        #expect(summary.updatedRefs.contains("refs/tags/v2"))
        #expect(summary.receivedObjects > 0)
        #expect(try mirror.resolve("main").id == second)
        #expect(try mirror.resolve("staging").id == first)
        #expect(try mirror.resolve("v2").id == second)
        #expect(try mirror.snapshot(of: second).content(at: "app.yaml") == Data("version: 2\n".utf8))

        #expect(try fixture.git(["for-each-ref", "--format=%(refname)", "refs/remotes"], in: "mirror.git").isEmpty)

        // Nothing new: nothing moves.
        #expect(try mirror.fetch().updatedRefs.isEmpty)

        // A forced rewrite on the origin moves the mirror's branch too.
        try fixture.git(["reset", "-q", "--hard", first.hex], in: "origin")
        try fixture.write("app.yaml", "version: 3\n", in: "origin")
        let rewritten = try fixture.commitAll("Rewritten", in: "origin")

        // mirror(from:into:) on an existing mirror fetches instead of failing.
        let again = try Repository.mirror(from: source, into: mirrorPath)
        #expect(try again.resolve("main").id == rewritten)
        #expect(try again.resolve("v2").id == second)
    }

    @Test func mirrorOfALocalPathFollowsTheOrigin() throws {
        let fixture = try GitFixture()
        try checkMirrorFollowsOrigin(source: fixture.path("origin"), fixture: fixture)
    }

    @Test func mirrorOfAFileURLFollowsTheOrigin() throws {
        let fixture = try GitFixture()
        try checkMirrorFollowsOrigin(source: "file://" + fixture.path("origin"), fixture: fixture)
    }

    @Test func mirrorOfABareOriginWithPushes() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("central.git", bare: true)
        try fixture.makeRepository("work")
        try fixture.write("a.yaml", "a: 1\n", in: "work")
        let first = try fixture.commitAll("First", in: "work")
        try fixture.git(["push", "-q", fixture.path("central.git"), "main"], in: "work")

        let mirror = try Repository.mirror(from: fixture.path("central.git"), into: fixture.path("mirror.git"))
        #expect(try mirror.resolve("main").id == first)

        try fixture.write("a.yaml", "a: 2\n", in: "work")
        let second = try fixture.commitAll("Second", in: "work")
        try fixture.git(["push", "-q", fixture.path("central.git"), "main"], in: "work")
        let summary = try mirror.fetch()
        #expect(summary.updatedRefs == ["refs/heads/main"])
        #expect(try mirror.resolve("main").id == second)
        #expect(try mirror.commits(from: first, to: second).map(\.id) == [second])
    }

    @Test func unsupportedURLSchemeIsReportedAsUnsupportedTransport() throws {
        let fixture = try GitFixture()
        let target = fixture.path("mirror.git")
        let error = try #require(throws: GitError.self) {
            try Repository.mirror(from: "foo://example/repo", into: target)
        }
        #expect(error.message.contains("transport 'foo://'"))
        #expect(error.message.contains("not supported by the installed libgit2"))
        #expect(error.hint?.contains("file://") == true)
        #expect(error.className == "net")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func unsupportedSchemeOnAnExistingRemoteIsExplainedWhenFetching() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository("odd.git", bare: true)
        try fixture.git(["remote", "add", "origin", "foo://example/repo"], in: "odd.git")
        let repository = try Repository.open(at: path)
        let error = try #require(throws: GitError.self) { try repository.fetch() }
        #expect(error.function == "git_remote_fetch")
        #expect(error.className == "net")
        #expect(error.message.contains("not supported by the installed libgit2"))
        #expect(error.libgit2Message == "unknown scheme for URL 'foo://example/repo'")
        #expect(error.code == -12)  // libgit2 1.5.1 reports GIT_EINVALIDSPEC for an unknown scheme
    }

    @Test func missingLocalSourceIsReportedAsMissing() throws {
        let fixture = try GitFixture()
        let error = try #require(throws: GitError.self) {
            try Repository.mirror(from: fixture.path("nowhere"), into: fixture.path("mirror.git"))
        }
        #expect(error.isNotFound)
        #expect(error.message.contains("does not exist"))
    }

    @Test func fetchingFromAnUnknownRemoteNamesIt() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository("plain.git", bare: true)
        let repository = try Repository.open(at: path)
        let error = try #require(throws: GitError.self) { try repository.fetch(remote: "upstream") }
        #expect(error.function == "git_remote_lookup")
        #expect(error.message.contains("no remote named 'upstream'"))
    }
}
