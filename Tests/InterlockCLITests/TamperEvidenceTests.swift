import Foundation
import Testing

/// Checkpoints leave the machine, and whoever keeps one proves the log still extends it: truncating the log together
/// with its checkpoint rows, or deleting every checkpoint, fails verification against the auditors' key; a lost key
/// is never replaced silently.
@Suite(.serialized) struct TamperEvidenceTests {
    typealias Workspace = CommandLineTests.Workspace

    func sqlite(_ w: Workspace, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // An insider with write access drops the append-only triggers first.
        let script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
            + "[c.execute('DROP TRIGGER ' + n) for (n,) in c.execute(\"SELECT name FROM sqlite_master WHERE type='trigger'\").fetchall()]; "
            + "c.executescript(sys.argv[2]); c.commit()"
        process.arguments = ["python3", "-c", script, w.state + "/interlock.db", sql]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CommandLineTests.Failure(message: "sqlite failed: \(sql)") }
    }

    /// A workspace with some history, the auditors' public key and a checkpoint they kept.
    func history() throws -> (Workspace, key: String, kept: String) {
        let w = try Workspace()
        let published = w.root + "/auditors"
        try FileManager.default.createDirectory(atPath: published, withIntermediateDirectories: true)
        let initialised = try w.run("init", "--checkpoint-dir", published)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        #expect(initialised.stdout.contains("publishing checkpoints to \(published)"))
        try w.run("audit", "public-key").stdout.write(toFile: w.root + "/auditor.pub", atomically: true, encoding: .utf8)
        #expect(try w.deployDirectly("plant-a").status == 0)
        let kept = w.root + "/kept.txt"
        let checkpoint = try w.run("audit", "checkpoint", "--out", kept)
        #expect(checkpoint.status == 0)
        #expect(checkpoint.stdout.hasPrefix("interlock audit log\n"))
        // Later work that the log records after the auditor kept their checkpoint.
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        try w.commit("Raise the broker limit")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: GateTrustTests.outsideWindows).status == 0)
        return (w, w.root + "/auditor.pub", kept)
    }

    @Test func checkpointsArePublishedAsTheyAreMadeAndAKeptOneVerifies() throws {
        let (w, key, kept) = try history()
        let files = try FileManager.default.contentsOfDirectory(atPath: w.root + "/auditors")
        #expect(files.contains("latest.txt"))
        #expect(files.filter { $0.hasPrefix("checkpoint-") }.count >= 3, "\(files)")
        let latest = try String(contentsOfFile: w.root + "/auditors/latest.txt", encoding: .utf8)
        let verify = try w.run("audit", "verify", "--public-key", key, "--checkpoint", kept, "--checkpoint", w.root + "/auditors/latest.txt")
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(latest.split(separator: "\n").count == 5)
    }

    @Test func truncatingTheLogWithItsCheckpointRowsFailsAgainstAKeptCheckpoint() throws {
        let (w, key, kept) = try history()
        let latest = w.root + "/auditors/latest.txt"
        let size = try #require(Int(try String(contentsOfFile: kept, encoding: .utf8).split(separator: "\n")[1]))
        // The insider deletes the newest records and every checkpoint that names them: the rest still chains.
        try sqlite(w, "DELETE FROM audit_record WHERE sequence > \(size - 2); DELETE FROM audit_checkpoint WHERE sequence > \(size - 2);")
        let withoutCopy = try w.run("audit", "verify", "--public-key", key)
        #expect(withoutCopy.status == 0, "the log's own checkpoints cannot tell: \(withoutCopy.stdout)")
        let withCopy = try w.run("audit", "verify", "--public-key", key, "--checkpoint", kept)
        #expect(withCopy.status == 1)
        #expect(withCopy.stdout.contains("missingRecords") || withCopy.stdout.contains("truncated"), "\(withCopy.stdout)")
        let withPublished = try w.run("audit", "verify", "--public-key", key, "--checkpoint", latest)
        #expect(withPublished.status == 1, "the published checkpoint catches it too")
    }

    @Test func deletingEveryCheckpointFailsAgainstTheAuditorsKey() throws {
        let (w, key, _) = try history()
        try sqlite(w, "DELETE FROM audit_checkpoint;")
        let verify = try w.run("audit", "verify", "--public-key", key)
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("unanchored"), "\(verify.stdout)")
    }

    @Test func aRewrittenRecordFailsAgainstAKeptCheckpoint() throws {
        let (w, key, kept) = try history()
        // The insider changes a record before the kept checkpoint.
        try sqlite(w, "UPDATE audit_record SET reason = 'nothing happened' WHERE sequence = 2;")
        let verify = try w.run("audit", "verify", "--public-key", key, "--checkpoint", kept)
        #expect(verify.status == 1)
    }

    @Test func aLostKeyIsNeverReplacedSilently() throws {
        let (w, key, _) = try history()
        try FileManager.default.removeItem(atPath: w.state + "/audit-signing.key")
        let again = try w.run("init")
        #expect(again.status == 2)
        #expect(again.stderr.contains("--rotate-key"), "\(again.stderr)")
        let rotated = try w.run("init", "--rotate-key")
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(try w.auditActions().contains("audit.key-rotated"))
        // The auditors' copy of the old key does not vouch for checkpoints made with the new one.
        let verify = try w.run("audit", "verify", "--public-key", key)
        #expect(verify.status == 1)
    }

    @Test func aForgedOrEditedCheckpointIsABadSignatureNotATruncation() throws {
        let (w, key, kept) = try history()
        let lines = try String(contentsOfFile: kept, encoding: .utf8).components(separatedBy: "\n")
        var future = lines
        future[1] = "100000"
        try future.joined(separator: "\n").write(toFile: w.root + "/future.txt", atomically: true, encoding: .utf8)
        let forged = try w.run("audit", "verify", "--public-key", key, "--checkpoint", w.root + "/future.txt")
        #expect(forged.status == 1)
        #expect(forged.stdout.contains("badSignature") && !forged.stdout.contains("missingRecords"), "\(forged.stdout)")
        var renamed = lines
        renamed[5] = renamed[5].replacingOccurrences(of: #"interlock-[0-9a-f]{16}"#, with: "interlock-0000000000000000", options: .regularExpression)
        try renamed.joined(separator: "\n").write(toFile: w.root + "/renamed.txt", atomically: true, encoding: .utf8)
        let edited = try w.run("audit", "verify", "--public-key", key, "--checkpoint", w.root + "/renamed.txt")
        #expect(edited.status == 1, "a checkpoint naming another key than the one that signed it: \(edited.stdout)")
    }

    @Test func aLogCutBackCannotMoveThePublishedHeadBack() throws {
        let (w, _, _) = try history()
        let latest = w.root + "/auditors/latest.txt"
        let before = try String(contentsOfFile: latest, encoding: .utf8)
        let size = try #require(Int(before.split(separator: "\n")[1]))
        try sqlite(w, "DELETE FROM audit_record WHERE sequence > \(size - 1); DELETE FROM audit_checkpoint WHERE sequence > \(size - 1);")
        // The next checkpoint the service signs would be of a shorter log than the auditors saw: publishing it fails loudly.
        let next = try w.run("init")
        #expect(next.stderr.contains("it was truncated"), "\(next.stdout)\(next.stderr)")
        #expect(try String(contentsOfFile: latest, encoding: .utf8) == before, "latest.txt still names the head the auditors saw")
    }

    @Test func aCheckpointFileThatIsNotOneIsAClearError() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        try "hello\n".write(toFile: w.root + "/bogus.txt", atomically: true, encoding: .utf8)
        let verify = try w.run("audit", "verify", "--checkpoint", w.root + "/bogus.txt")
        #expect(verify.status == 2)
        #expect(verify.stderr.contains("bogus.txt: not an Interlock checkpoint"))
    }
}
