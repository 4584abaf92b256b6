import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel
import Testing
@testable import InterlockServer

/// Which push makes a pass give way: only one whose commit the pass's read does not contain. A late delivery of an
/// older push, a replayed body and a push that names no commit ask for a pass, but never stop the one under way.
@Suite struct GiveWayTests {
    /// The history of a real repository, read with libgit2.
    struct RepositoryHistory: CommitHistory {
        let path: String
        static let person = Person(id: "flows@example.com", name: "Flow Manager", email: "flows@example.com")
        func commits(from base: String?, to head: String, limit: Int) -> [CommitIdentity]? {
            guard let tip = ObjectID(hex: head), let repository = try? Repository.open(at: path),
                  let found = try? repository.commits(from: base.flatMap { ObjectID(hex: $0) }, to: tip, limit: limit) else { return nil }
            return found.map { CommitIdentity(id: $0.id.hex, summary: $0.summary, author: Self.person, committer: Self.person) }
        }
    }

    /// A repository with three commits on main, one on another branch; their ids, oldest first.
    static func repository() throws -> (path: String, main: [String], other: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("giveway-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try ServerFixture.git(["init", "-q"], in: path)
        var main: [String] = []
        for round in 1...3 {
            try "round \(round)\n".write(toFile: path + "/file.txt", atomically: true, encoding: .utf8)
            try ServerFixture.git(["add", "file.txt"], in: path)
            try ServerFixture.git(["commit", "-qm", "round \(round)"], in: path)
            main.append(try Repository.open(at: path).resolveID("HEAD").hex)
        }
        try ServerFixture.git(["checkout", "-qb", "other", main[0]], in: path)
        try "elsewhere\n".write(toFile: path + "/file.txt", atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", "elsewhere"], in: path)
        let other = try Repository.open(at: path).resolveID("HEAD").hex
        return (path, main, other)
    }

    @Test func onlyAPushTheReadDoesNotContainMakesAPassGiveWay() throws {
        let (path, main, other) = try Self.repository()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let history = RepositoryHistory(path: path)
        func newer(_ claims: [String?], read: String) -> String? {
            ReconcileLoop.newerPush(among: claims, read: read, history: history, known: Locked([:]))
        }
        // The pass read the second commit: the third was pushed after the read.
        #expect(newer([main[2]], read: main[1]) == main[2])
        // A late delivery of the push the read already contains, the same commit, or an older one: no.
        #expect(newer([main[1]], read: main[1]) == nil)
        #expect(newer([main[0]], read: main[2]) == nil, "an older push delivered late, or its body replayed")
        // A push that names no commit asks for a pass only.
        #expect(newer([nil], read: main[1]) == nil)
        // A commit the read does not reach (another line of history, or one not fetched yet) is newer.
        #expect(newer([other], read: main[2]) == other)
        #expect(newer([String(repeating: "ab", count: 20)], read: main[2]) != nil, "a commit not fetched yet")
        // Among several, the first newer one; the others are not taken for newer.
        #expect(newer([main[0], nil, main[2]], read: main[1]) == main[2])
    }

    @Test func eachClaimIsLookedUpOncePerPass() throws {
        let (path, main, _) = try Self.repository()
        let history = RepositoryHistory(path: path)
        let known = Locked<[String: Bool]>([:])
        #expect(ReconcileLoop.newerPush(among: [main[0], main[2]], read: main[1], history: history, known: known) == main[2])
        #expect(known.current == [main[0]: false, main[2]: true])
        // The answers stand for the pass even when the repository is gone: the workers ask once per site.
        try FileManager.default.removeItem(atPath: path)
        #expect(ReconcileLoop.newerPush(among: [main[0], main[2]], read: main[1], history: history, known: known) == main[2])
        #expect(ReconcileLoop.newerPush(among: [main[0]], read: main[1], history: history, known: known) == nil)
    }
}
