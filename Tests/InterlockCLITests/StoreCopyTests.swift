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
        // An empty log is never "verified" against the auditors' key: it was wiped, or it is the wrong database.
        let emptyVerified = try w.run("audit", "verify", "--database", url, "--public-key", w.state + "/audit-signing.pub")
        #expect(emptyVerified.status == 1 && emptyVerified.stdout.contains("holds no records at all"), "\(emptyVerified.stdout)")
        // Reading never creates tables: a database without Interlock's is named as such, and stays without them.
        let stranger = try PostgresCluster.shared.freshDatabaseURL()
        for _ in 0..<2 {
            let read = try w.run("audit", "verify", "--database", stranger, "--public-key", w.state + "/audit-signing.pub")
            #expect(read.status == 2 && read.stderr.contains("holds no Interlock audit log"), "\(read.stderr)")
        }

        let wrong = url.replacingOccurrences(of: #"interlock:[^@]+@"#, with: "interlock:not-the-password@", options: .regularExpression)
        let denied = try w.run("audit", "verify", "--database", wrong)
        #expect(denied.status == 2 && denied.stderr.contains("password authentication failed") && !denied.stderr.contains("not-the-password"))
        let unknown = try w.run("audit", "log", "--database", "mysql://root@db/interlock")
        #expect(unknown.status == 2 && unknown.stderr.contains("neither sqlite: nor postgres://"))
        let missing = try w.run("audit", "log", "--database", "sqlite:" + w.root + "/none.db")
        #expect(missing.status == 2 && missing.stderr.contains("no audit log at"))
    }

    /// After the move, the instance runs on PostgreSQL: a change is reconciled, approved with a password and applied
    /// through the database, two appliers racing for it apply it once, and the log verifies with the auditors' key.
    @Test func theQueueRunsOnPostgreSQLAfterTheMove() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        #expect(try w.deployDirectly("plant-a").status == 0)
        let publicKey = w.root + "/auditors.pub"
        try FileManager.default.copyItem(atPath: w.state + "/audit-signing.pub", toPath: publicKey)
        let url = try PostgresCluster.shared.freshDatabaseURL()
        let copied = try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url)
        #expect(copied.status == 0, "\(copied.stderr)")
        // The file is set aside: from here on, anything that still wrote to it would be lost from the shared record.
        try FileManager.default.moveItem(atPath: w.state + "/interlock.db", toPath: w.root + "/before-the-move.db")
        w.baseEnvironment = ["INTERLOCK_DATABASE": url]

        try w.replace(w.repo + "/sites/plant-a/site.yaml", "10.20.1.15", "10.20.1.16")
        try w.commit("New OPC UA server at Plant A")
        let reconcile = try w.run("reconcile", "--hooks", "skip", "--repo", w.repo)
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        let approve = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "OPC UA server replaced during the shutdown", "--repo", w.repo])
        #expect(approve.status == 0, "\(approve.stdout)\(approve.stderr)")
        let environment = CommandLineTests.insideWindow.merging(["INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS": "50"]) { $1 }
        let arguments = ["apply", "--change", "plant-a-2", "--hooks", "skip", "--repo", w.repo, "--as", "ops", "--password-stdin"]
        let first = try w.start(arguments, environment: environment, stdin: "ops-pass-1\n")
        let second = try w.start(arguments, environment: environment, stdin: "ops-pass-1\n")
        first.0.waitUntilExit()
        second.0.waitUntilExit()
        let outputs = [first.1, second.1].map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }
        #expect(outputs.filter { $0.contains("applied plant-a-2") }.count == 1, "\(outputs)")
        let actions = try w.auditActions()
        #expect(actions.filter { $0 == "apply.started" }.count == 1 && actions.contains("change.approved"), "\(actions)")
        #expect(!FileManager.default.fileExists(atPath: w.state + "/interlock.db"), "nothing fell back to a new SQLite file")
        let verified = try w.run("audit", "verify", "--public-key", publicKey)
        #expect(verified.status == 0 && verified.stdout.contains("postgres://"), "\(verified.stdout)\(verified.stderr)")
        #expect(try w.run("status", "--site", "plant-a", "--repo", w.repo).status == 0, "plant-a is in sync")
    }

    /// GET `url`: the status and the body (python3's urllib: no HTTP client in the test target).
    func get(_ url: String) throws -> (status: Int, body: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("get-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sys, urllib.request, urllib.error
            try:
                r = urllib.request.urlopen(sys.argv[1], timeout=20); code, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, body = e.code, e.read()
            except Exception as e:
                code, body = 0, str(e).encode()
            open(sys.argv[2], "wb").write(str(code).encode() + b"\\n" + body)
            """, url, out]
        try process.run()
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? String(lines[1]) : "")
    }

    /// `/readyz` says whether the state database answers: a replica that lost it is taken out of the load balancer.
    @Test func readinessFollowsTheDatabase() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        let cluster = PostgresCluster(name: "readyz")
        let url = try cluster.freshDatabaseURL()
        #expect(try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url).status == 0)
        w.baseEnvironment = ["INTERLOCK_DATABASE": url]
        let port = 20000 + Int.random(in: 0..<20000)
        let (serve, _, err) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "1", "--hooks", "skip"])
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL); serve.waitUntilExit() } }
        var ready = (status: 0, body: "")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ready.status != 200 {
            usleep(300_000)
            ready = try get("http://127.0.0.1:\(port)/readyz")
        }
        #expect(ready.status == 200 && ready.body.contains("\"database\": \"ok\""), "\(ready) \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")

        try cluster.script("stop", cluster.directory)
        let lost = try get("http://127.0.0.1:\(port)/readyz")
        #expect(lost.status == 503 && lost.body.contains("database unreachable"), "\(lost)")
        #expect(!lost.body.contains(url), "the password is not in the answer")
    }

    /// A replica that starts before its database waits for it: it listens at once, says 503 "database unreachable"
    /// with the reason on /readyz, retries, and serves once the database answers.
    @Test func aReplicaStartedBeforeItsDatabaseWaitsForIt() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        let cluster = PostgresCluster(name: "startup")
        let url = try cluster.freshDatabaseURL()
        #expect(try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url).status == 0)
        w.baseEnvironment = ["INTERLOCK_DATABASE": url]
        try cluster.script("down", cluster.directory)
        let port = 20000 + Int.random(in: 0..<20000)
        let (serve, _, err) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "1", "--hooks", "skip"])
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL); serve.waitUntilExit() } }
        var waiting = (status: 0, body: "")
        var deadline = Date().addingTimeInterval(60)
        while Date() < deadline, waiting.status != 503 {
            usleep(300_000)
            waiting = try get("http://127.0.0.1:\(port)/readyz")
        }
        #expect(waiting.status == 503 && waiting.body.contains("database unreachable") && waiting.body.contains("cannot connect"), "\(waiting)")
        #expect(!waiting.body.contains(url), "the password is not in the answer")
        #expect(serve.isRunning, "it waits instead of exiting")
        try cluster.script("up", cluster.directory)
        var ready = (status: 0, body: "")
        deadline = Date().addingTimeInterval(90)
        while Date() < deadline, ready.status != 200 {
            usleep(500_000)
            ready = try get("http://127.0.0.1:\(port)/readyz")
        }
        let log = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        #expect(ready.status == 200 && ready.body.contains("\"database\": \"ok\""), "\(ready) \(log.suffix(2000))")
        #expect(log.contains("the state database does not answer") && log.contains("retrying in"), "the wait is logged: \(log.suffix(2000))")
    }
}
