import Foundation
import Testing

/// The checkpoint key outside the service's writable state: `interlock signer serve` holds it, a real process on a
/// real Unix socket, and signs only heads that extend what it accepted before. Moving to it, and rotating its key, are
/// recorded rotations that verification with the old public key follows.
@Suite(.serialized) struct SigningHelperTests {
    typealias Workspace = CommandLineTests.Workspace

    /// A running helper: its process, socket, key file and stderr.
    final class Helper {
        let process: Process
        let socket: String
        let key: String
        let log: String

        init(_ w: Workspace, key: String, previousKey: String? = nil, extra: [String] = [], name: String = "signer") throws {
            socket = w.root + "/\(name).sock"
            self.key = key
            var arguments = ["signer", "serve", "--key", key, "--socket", socket, "--state-dir", w.root + "/\(name)-state"]
            if let previousKey { arguments += ["--previous-key", previousKey] }
            let (process, _, err) = try w.start(arguments + extra)
            self.process = process
            log = err
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) || !((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("listening") {
                guard process.isRunning else { break }
                usleep(20_000)
            }
            guard process.isRunning else {
                throw CommandLineTests.Failure(message: "the signing helper did not start: \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
            }
        }

        var stderr: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func keygen(_ w: Workspace, _ name: String) throws -> (key: String, publicKey: String) {
        let directory = w.root + "/signer-keys"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = directory + "/\(name).key"
        let made = try w.run("signer", "keygen", "--key", key)
        #expect(made.status == 0, "\(made.stderr)")
        let base64 = made.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let publicKey = directory + "/\(name).pub"
        try (base64 + "\n").write(toFile: publicKey, atomically: true, encoding: .utf8)
        return (key, publicKey)
    }

    func sqlite(_ w: Workspace, _ sql: String) throws {
        try TamperEvidenceTests().sqlite(w, sql)
    }

    /// A log with history signed by the state directory's key, moved to the helper.
    func movedToHelper() throws -> (Workspace, Helper, oldPublicKey: String, newPublicKey: String) {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        #expect(try w.run("reconcile", "--hooks", "skip", "--repo", w.repo).status == 0)
        let oldPublicKey = w.root + "/auditors-old.pub"
        try FileManager.default.copyItem(atPath: w.state + "/audit-signing.pub", toPath: oldPublicKey)
        let (key, newPublicKey) = try keygen(w, "helper")
        let helper = try Helper(w, key: key)
        let moved = try w.run("init", "--signer", helper.socket)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.contains("signing helper \(helper.socket)"))
        return (w, helper, oldPublicKey, newPublicKey)
    }

    @Test func movingToTheHelperRetiresTheLocalKeyAndVerificationFollowsTheRotation() throws {
        let (w, helper, oldPublicKey, newPublicKey) = try movedToHelper()
        defer { helper.stop() }
        // Nothing in the state directory can sign any more.
        #expect(!FileManager.default.fileExists(atPath: w.state + "/audit-signing.key"))
        #expect(try w.auditActions().suffix(1) == ["audit.key-rotated"])
        #expect(helper.stderr.contains("signed sequence"))

        // The auditors' copy of the old key follows the rotation the old key endorsed.
        let withOld = try w.run("audit", "verify", "--public-key", oldPublicKey, "--max-unanchored", "0")
        #expect(withOld.status == 0, "\(withOld.stdout)\(withOld.stderr)")
        #expect(withOld.stdout.contains("handed over to by the key rotation"))
        // The new key alone accepts the old key's checkpoints up to the rotation.
        let withNew = try w.run("audit", "verify", "--public-key", newPublicKey)
        #expect(withNew.status == 0, "\(withNew.stdout)\(withNew.stderr)")
        #expect(withNew.stdout.contains("retired by the key rotation"))

        // Every command keeps checkpointing through the helper.
        #expect(try w.run("reconcile", "--hooks", "skip", "--repo", w.repo).status == 0)
        let checkpoint = try w.run("audit", "checkpoint")
        #expect(checkpoint.status == 0, "\(checkpoint.stderr)")
        let keyID = try w.run("signer", "status", "--socket", helper.socket, "--json")
        #expect(keyID.status == 0)
        #expect(checkpoint.stdout.contains("— interlock-") && keyID.stdout.contains("\"sequence\""))
        // Running init again changes nothing and needs no key.
        let again = try w.run("init")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try w.auditActions().filter { $0 == "audit.key-rotated" }.count == 1)
    }

    /// A checkpoint row is as editable as the rest of the database: one that names the helper's key without its
    /// signature must not pass for the helper having signed already, which would leave the move unrecorded.
    @Test func aForgedCheckpointRowDoesNotHideTheMoveToTheHelper() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        #expect(try w.run("reconcile", "--hooks", "skip", "--repo", w.repo).status == 0)
        let oldPublicKey = w.root + "/auditors-old.pub"
        try FileManager.default.copyItem(atPath: w.state + "/audit-signing.pub", toPath: oldPublicKey)
        let (key, _) = try keygen(w, "helper")
        let helper = try Helper(w, key: key)
        defer { helper.stop() }
        let status = try w.run("signer", "status", "--socket", helper.socket, "--json")
        let helperKeyID = try #require(
            (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["keyID"] as? String)
        try sqlite(w, """
            INSERT INTO audit_checkpoint (sequence, head_hash, timestamp, key_id, signature)
            SELECT sequence, head_hash, timestamp, '\(helperKeyID)', signature FROM audit_checkpoint ORDER BY id DESC LIMIT 1;
            """)
        let moved = try w.run("init", "--signer", helper.socket)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(try w.auditActions().suffix(1) == ["audit.key-rotated"], "the move is recorded despite the forged row")
        // Without the forged row, the old key follows its endorsed rotation to the helper.
        try sqlite(w, "DELETE FROM audit_checkpoint WHERE key_id = '\(helperKeyID)' AND signature IN (SELECT signature FROM audit_checkpoint WHERE key_id != '\(helperKeyID)');")
        let verified = try w.run("audit", "verify", "--public-key", oldPublicKey)
        #expect(verified.stdout.contains("handed over to by the key rotation"), "\(verified.stdout)\(verified.stderr)")
    }

    @Test func theHelperRefusesATruncatedOrRewrittenLog() throws {
        let (w, helper, oldPublicKey, _) = try movedToHelper()
        defer { helper.stop() }
        #expect(try w.run("reconcile", "--hooks", "skip", "--repo", w.repo).status == 0)
        let head = try w.run("audit", "checkpoint")
        #expect(head.status == 0)
        let size = Int(head.stdout.split(separator: "\n")[1])!

        // Truncate: the last record and every checkpoint that names it are removed.
        let backup = w.root + "/backup.db"
        try FileManager.default.copyItem(atPath: w.state + "/interlock.db", toPath: backup)
        try sqlite(w, "DELETE FROM audit_checkpoint WHERE sequence >= \(size); DELETE FROM audit_record WHERE sequence = \(size);")
        let truncated = try w.run("audit", "checkpoint")
        #expect(truncated.status == 2)
        #expect(truncated.stderr.contains("truncated or restored from an older copy"), "\(truncated.stderr)")
        #expect(helper.stderr.contains("refused"))
        let verified = try w.run("audit", "verify", "--public-key", oldPublicKey, "--max-unanchored", "0")
        #expect(verified.status == 1, "a truncated log is not anchored: \(verified.stdout)")

        // Rewrite the head record (its hash, as a re-chain would): refused too.
        try FileManager.default.removeItem(atPath: w.state + "/interlock.db")
        try? FileManager.default.removeItem(atPath: w.state + "/interlock.db-wal")
        try? FileManager.default.removeItem(atPath: w.state + "/interlock.db-shm")
        try FileManager.default.copyItem(atPath: backup, toPath: w.state + "/interlock.db")
        try sqlite(w, "UPDATE audit_record SET hash = '\(String(repeating: "ab", count: 32))' WHERE sequence = \(size);")
        let rewritten = try w.run("init")
        #expect(rewritten.status == 2)
        #expect(rewritten.stderr.contains("the log was rewritten"), "\(rewritten.stderr)")

        // A record appended that does not link to the accepted head: refused.
        try FileManager.default.removeItem(atPath: w.state + "/interlock.db")
        try FileManager.default.copyItem(atPath: backup, toPath: w.state + "/interlock.db")
        try sqlite(w, "INSERT INTO audit_record SELECT sequence + 1, id || 'x', timestamp, actor_id, actor_name, actor_role, actor_authentication, source_host, source_process, source_pid, category, action, site, resource, change_id, plan_id, commit_id, before_value, after_value, reason, result, error, details, '\(String(repeating: "cd", count: 32))', '\(String(repeating: "ef", count: 32))' FROM audit_record WHERE sequence = \(size);")
        let unlinked = try w.run("audit", "checkpoint")
        #expect(unlinked.status == 2)
        #expect(unlinked.stderr.contains("does not link to record \(size)"), "\(unlinked.stderr)")
    }

    @Test func anInsiderCannotHandTheLogToAKeyOfTheirOwn() throws {
        let (w, helper, oldPublicKey, _) = try movedToHelper()
        defer { helper.stop() }
        // Their own helper signs a rotation to their key …
        let (evilKey, _) = try keygen(w, "evil")
        let evil = try Helper(w, key: evilKey, name: "evil")
        defer { evil.stop() }
        #expect(try w.run("init", "--signer", evil.socket).status == 0)
        let before = try w.auditActions()
        // … but the real helper, which signed this log before, refuses to carry the log past that rotation.
        let back = try w.run("init", "--signer", helper.socket)
        #expect(back.status == 2)
        #expect(back.stderr.contains("which this helper does not hold"), "\(back.stderr)")
        #expect(helper.stderr.contains("refused"))
        #expect(try w.auditActions() == before, "a refused move records nothing")
        // And the auditors' key does not follow a rotation that no trusted key endorsed.
        let verified = try w.run("audit", "verify", "--public-key", oldPublicKey)
        #expect(verified.status == 1)
        #expect(verified.stdout.contains("no checkpoint of a trusted key endorses that rotation"), "\(verified.stdout)")
    }

    @Test func aRotationTheOldKeyEndorsesIsFollowedAndALostKeyNeedsTheNewPublicKey() throws {
        let (w, helper, oldPublicKey, helperPublicKey) = try movedToHelper()
        // Rotate the helper's key: the new key signs, the old one endorses the recorded rotation.
        helper.stop()
        let (newKey, newPublicKey) = try keygen(w, "rotated")
        let rotating = try Helper(w, key: newKey, previousKey: helper.key)
        defer { rotating.stop() }
        let recorded = try w.run("init", "--signer", rotating.socket)
        #expect(recorded.status == 0, "\(recorded.stderr)")
        #expect(try w.auditActions().filter { $0 == "audit.key-rotated" }.count == 2)
        for key in [oldPublicKey, helperPublicKey, newPublicKey] {
            let verified = try w.run("audit", "verify", "--public-key", key, "--max-unanchored", "0")
            #expect(verified.status == 0, "verify with \(key): \(verified.stdout)\(verified.stderr)")
        }

        // A lost key (no endorsement): the old public key alone no longer anchors what the new key signs.
        let lost = try Workspace()
        #expect(try lost.run("init").status == 0)
        let lostOld = lost.root + "/old.pub"
        try FileManager.default.copyItem(atPath: lost.state + "/audit-signing.pub", toPath: lostOld)
        try FileManager.default.removeItem(atPath: lost.state + "/audit-signing.key")
        #expect(try lost.run("init", "--rotate-key").status == 0)
        let lostNew = lost.root + "/new.pub"
        try FileManager.default.copyItem(atPath: lost.state + "/audit-signing.pub", toPath: lostNew)
        let onlyOld = try lost.run("audit", "verify", "--public-key", lostOld)
        #expect(onlyOld.status == 1)
        #expect(onlyOld.stdout.contains("no checkpoint of a trusted key endorses that rotation"), "\(onlyOld.stdout)")
        let both = try lost.run("audit", "verify", "--public-key", lostOld, "--public-key", lostNew)
        #expect(both.status == 0, "\(both.stdout)\(both.stderr)")
    }

    @Test func theHelperRefusesAKeyOthersMayReadAndClientsItDoesNotKnow() throws {
        let w = try Workspace()
        let (key, _) = try keygen(w, "helper")
        #expect(try w.run("signer", "keygen", "--key", key).status == 2, "a key is never overwritten")
        chmod(key, 0o644)
        let readable = try w.run("signer", "serve", "--key", key, "--socket", w.root + "/s.sock", "--state-dir", w.root + "/signer-state")
        #expect(readable.status == 2)
        #expect(readable.stderr.contains("chmod 600"), "\(readable.stderr)")
        chmod(key, 0o600)

        let helper = try Helper(w, key: key, extra: ["--client-user", "54321"])
        defer { helper.stop() }
        let refused = try w.run("init", "--signer", helper.socket)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("may not use this signing helper"), "\(refused.stderr)")
        let actions = FileManager.default.fileExists(atPath: w.state + "/interlock.db") ? try w.auditActions() : []
        #expect(actions.isEmpty)

        let missing = try w.run("init", "--signer", w.root + "/nobody.sock")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot connect to the signing helper"), "\(missing.stderr)")
    }
}
