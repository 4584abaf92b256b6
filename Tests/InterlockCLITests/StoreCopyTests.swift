import Foundation
import InterlockTestSupport
import Testing

/// The audit log moves to a real PostgreSQL server with `interlock store copy` and verifies there with the same head
/// and the auditors' key; `--database` points every audit command at it; a broken source or a used target is refused.
@Suite(.serialized) struct StoreCopyTests {
    typealias Workspace = CommandLineTests.Workspace

    func head(_ result: Workspace.Result) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else { return nil }
        return object["headHash"] as? String
    }

    @Test func theLogMovesToPostgreSQLAndVerifiesThereWithTheSameHead() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        #expect(try w.run("reconcile", "--hooks", "skip", "--repo", w.repo).status == 0)
        let publicKey = w.root + "/auditors.pub"
        try FileManager.default.copyItem(atPath: w.state + "/audit-signing.pub", toPath: publicKey)
        let before = try w.run("audit", "verify", "--public-key", publicKey, "--json")
        #expect(before.status == 0, "\(before.stdout)\(before.stderr)")
        let sourceHead = try #require(head(before))

        let url = try PostgresCluster.shared.freshDatabaseURL()
        let copied = try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url)
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(copied.stdout.contains("verified: both end at head #") && copied.stdout.contains(sourceHead))
        #expect(!copied.stdout.contains(url), "the password is never printed")
        #expect(copied.stdout.contains("and the change queue: ") && !copied.stdout.contains("queue: 0 change(s)"), "\(copied.stdout)")

        let after = try w.run("audit", "verify", "--database", url, "--public-key", publicKey, "--json")
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
        #expect(head(after) == sourceHead)
        let log = try w.run("audit", "log", "--database", url, "--json", "--limit", "0")
        #expect(log.status == 0 && log.stdout.contains("audit.initialized"))
        // Through the environment, as a service unit would set it; new records extend the same chain, signed.
        let checkpoint = try w.run(["audit", "checkpoint"], environment: ["INTERLOCK_DATABASE": url])
        #expect(checkpoint.status == 0, "\(checkpoint.stderr)")
        let again = try w.run(["audit", "verify", "--public-key", publicKey], environment: ["INTERLOCK_DATABASE": url])
        #expect(again.status == 0 && again.stdout.contains("verified"), "\(again.stdout)\(again.stderr)")

        // A target that holds a log already is refused, and left as it was.
        let twice = try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url)
        #expect(twice.status == 2 && twice.stderr.contains("already holds an audit log"))
        #expect(head(try w.run("audit", "verify", "--database", url, "--json")) == head(after))
    }

    @Test func aBrokenSourceIsNotCopiedAndBadURLsSayWhatToWrite() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        #expect(try w.run("reconcile", "--hooks", "skip", "--repo", w.repo).status == 0)
        try TamperEvidenceTests().sqlite(w, "UPDATE audit_record SET reason = 'edited' WHERE sequence = 1;")
        let url = try PostgresCluster.shared.freshDatabaseURL()
        let refused = try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url)
        #expect(refused.status == 2 && refused.stderr.contains("does not verify") && refused.stderr.contains("nothing was copied"))
        let empty = try w.run("audit", "log", "--database", url, "--json", "--limit", "0")
        #expect(empty.status == 0 && !empty.stdout.contains("\"action\""))

        let wrong = url.replacingOccurrences(of: #"interlock:[^@]+@"#, with: "interlock:not-the-password@", options: .regularExpression)
        let denied = try w.run("audit", "verify", "--database", wrong)
        #expect(denied.status == 2 && denied.stderr.contains("password authentication failed") && !denied.stderr.contains("not-the-password"))
        let unknown = try w.run("audit", "log", "--database", "mysql://root@db/interlock")
        #expect(unknown.status == 2 && unknown.stderr.contains("neither sqlite: nor postgres://"))
        let missing = try w.run("audit", "log", "--database", "sqlite:" + w.root + "/none.db")
        #expect(missing.status == 2 && missing.stderr.contains("no audit log at"))
    }
}
