import Foundation
import InterlockTestSupport
import Testing

/// Three `interlock serve` replicas on loopback against one real PostgreSQL, with a site whose apply is slow (every
/// file operation takes 1 s, so that a fault lands mid-apply even on a loaded machine): a change approved through one replica is applied exactly once by some replica; the
/// applying replica killed with SIGKILL is taken over by another after its lease and the site recovered; a replica
/// frozen with SIGSTOP past its lease is taken over and, resumed, can no longer write to the database or the target;
/// PostgreSQL restarted at once mid-apply loses nothing. After each: per-site apply intervals never overlap, no
/// change is applied twice, and the shared log verifies with the auditors' key.
@Suite(.serialized) struct ReplicaFaultTests {
    typealias Workspace = CommandLineTests.Workspace

    static let lease = 5.0
    static let environment = CommandLineTests.insideWindow.merging(["INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS": "1000", "LOG_LEVEL": "info"]) { $1 }

    /// One `interlock serve`.
    final class Replica {
        let name: String
        let port: Int
        let process: Process
        let log: String
        var pid: Int32 { process.processIdentifier }

        init(_ name: String, workspace: Workspace) throws {
            self.name = name
            port = 20000 + Int.random(in: 0..<20000)
            let arguments = ["serve", "--repo", workspace.repo, "--address", "127.0.0.1:\(port)", "--interval", "1", "--hooks", "skip",
                             "--lease-duration", String(Int(ReplicaFaultTests.lease))]
            (process, _, log) = try workspace.start(arguments, environment: ReplicaFaultTests.environment)
        }

        var url: String { "http://127.0.0.1:\(port)" }
        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func stop() {
            guard process.isRunning else { return }
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// An HTTP request through python3's urllib (no HTTP client in the test target): status and body.
    static func http(_ method: String, _ url: String, token: String? = nil, json: String? = nil, headers: [String: String] = [:]) throws -> (status: Int, body: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("http-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sys, json, urllib.request, urllib.error
            method, url, token, body, out, headers = sys.argv[1:7]
            request = urllib.request.Request(url, method=method, data=body.encode() if body else None, headers=json.loads(headers))
            if token: request.add_header("Authorization", "Bearer " + token)
            if body: request.add_header("Content-Type", "application/json")
            try:
                r = urllib.request.urlopen(request, timeout=30); code, data = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, data = e.code, e.read()
            except Exception as e:
                code, data = 0, str(e).encode()
            open(out, "wb").write(str(code).encode() + b"\\n" + data)
            """, method, url, token ?? "", json ?? "", out, String(decoding: try JSONSerialization.data(withJSONObject: headers), as: UTF8.self)]
        try process.run()
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? String(lines[1]) : "")
    }

    static func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Signs a change as a plant manager does in a browser, through one replica: signs in to the console (session
    /// cookie, the form's security token), then approves with her password again. Status and body of the approval.
    static func approveInBrowser(_ base: String, user: String, password: String, change: String, reason: String) throws -> (status: Int, body: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("approve-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sys, re, json, urllib.request, urllib.error, urllib.parse, http.cookiejar
            base, user, password, change, reason, out = sys.argv[1:7]
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            def csrf(page): return re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            try:
                login = opener.open(base + "/login", timeout=30).read().decode()
                form = urllib.parse.urlencode({"username": user, "password": password, "csrf": csrf(login), "next": "/"}).encode()
                home = opener.open(urllib.request.Request(base + "/login", data=form, method="POST"), timeout=30).read().decode()
                body = json.dumps({"password": password, "reason": reason}).encode()
                request = urllib.request.Request(base + "/api/v1/changes/" + change + "/approve", data=body, method="POST",
                                                 headers={"Content-Type": "application/json", "X-CSRF-Token": csrf(home)})
                r = opener.open(request, timeout=30); code, data = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, data = e.code, e.read()
            except Exception as e:
                code, data = 0, repr(e).encode()
            open(out, "wb").write(str(code).encode() + b"\\n" + data)
            """, base, user, password, change, reason, out]
        try process.run()
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? String(lines[1]) : "")
    }

    /// Polls `condition` every 200 ms until it holds or `seconds` have passed; whether it held.
    static func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try condition()
    }

    /// The audit records, oldest first.
    static func records(_ w: Workspace, change: String? = nil) throws -> [[String: Any]] {
        var arguments = ["audit", "log", "--json", "--limit", "0"]
        if let change { arguments += ["--change", change] }
        let log = try w.run(arguments, environment: [:])
        let records = object(log.stdout)["records"] as? [[String: Any]] ?? []
        return records.sorted { ($0["sequence"] as? Int ?? 0) < ($1["sequence"] as? Int ?? 0) }
    }

    static let terminal: Set<String> = ["applied", "rolled-back", "failed"]

    /// The site's values of the `index`-th change: every one rewrites 13 files of plant-a.
    static func values(_ index: Int) -> [String] {
        ["opcua_port: \(4840 + index)", "mqtt\(index).plant-a.example.internal", "host: 10.20.1.\(30 + index)"]
    }

    @Test(.timeLimit(.minutes(6))) func threeReplicasApplyOnceThroughKillFreezeAndADatabaseRestart() async throws {
        let w = try Workspace()
        // The test reads the queue through the API with mgr-plant-a's token (tokens read; only a signed-in person signs).
        let made = try w.run("hash-password", "--new-token")
        let token = try #require(made.stdout.components(separatedBy: "token:").dropFirst().first?.split(separator: "\n").first?.trimmingCharacters(in: .whitespaces))
        let tokenHash = try #require(made.stdout.components(separatedBy: "apiTokens entry:").dropFirst().first?.trimmingCharacters(in: .whitespacesAndNewlines))
        try w.replace(w.root + "/interlock.yaml", "vp4=\" }", "vp4=\", apiTokens: [\"\(tokenHash)\"] }")
        #expect(try w.run("init").status == 0)
        #expect(try w.deployDirectly("plant-a").status == 0)
        let publicKey = w.root + "/auditors.pub"
        try FileManager.default.copyItem(atPath: w.state + "/audit-signing.pub", toPath: publicKey)
        let cluster = PostgresCluster(name: "replicas")
        let url = try cluster.freshDatabaseURL()
        #expect(try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url).status == 0)
        try FileManager.default.moveItem(atPath: w.state + "/interlock.db", toPath: w.root + "/before-the-move.db")
        w.baseEnvironment = ["INTERLOCK_DATABASE": url]
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4840", Self.values(0)[0])
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "mqtt.plant-a.example.internal", Self.values(0)[1])
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "host: 10.20.1.30", Self.values(0)[2])
        try w.commit("Values of round 0")

        var replicas = try (1...3).map { try Replica("replica-\($0)", workspace: w) }
        defer { for replica in replicas { replica.stop() } }
        for replica in replicas {
            let ready = try await Self.waitUntil(60) { try Self.http("GET", replica.url + "/readyz").status == 200 }
            #expect(ready, "\(replica.name) ready: \(replica.output.suffix(2000))")
        }
        let opcConfig = w.targets + "/plant-a/ignition/data/config/resources/external/ignition/opc-connection/plant-opcua/config.json"
        var round = 0
        var takeovers: [Double] = []

        /// Commits the next round's values, approves the change through `through`, and returns its id once an
        /// apply of it has started (and the pid of the replica applying it).
        func approveNextChange(through: Replica) async throws -> (id: String, applier: Int32) {
            round += 1
            let site = w.repo + "/sites/plant-a/site.yaml"
            for (old, new) in zip(Self.values(round - 1), Self.values(round)) { try w.replace(site, old, new) }
            let message = "Round \(round): new OPC UA port, broker and MES database"
            try w.commit(message)
            var id: String?
            var last = (status: 0, body: "")
            let queued = try await Self.waitUntil(60) {
                last = try Self.http("GET", through.url + "/api/v1/queue?site=plant-a", token: token)
                let list = Self.object(last.body)
                id = (list["changes"] as? [[String: Any]] ?? []).first { $0["commitSummary"] as? String == message && $0["status"] as? String == "waiting" }?["id"] as? String
                return id != nil
            }
            let change = try #require(id, "round \(round) was queued: \(queued) \(last) \(through.output.suffix(3000))")
            let signed = try Self.approveInBrowser(through.url, user: "mgr-plant-a", password: "anna-pass-1", change: change,
                                                   reason: "Round \(round) during the weekend shutdown")
            #expect(signed.status == 200, "approve \(change): \(signed)")
            var owner: String?
            let started = try await Self.waitUntil(60) {
                owner = (try Self.records(w, change: change).first { $0["action"] as? String == "apply.started" }?["details"] as? [String: Any])?["owner"] as? String
                return owner != nil
            }
            #expect(started, "an apply of \(change) started")
            let pid = Int32(owner?.split(separator: ":").dropFirst().first ?? "") ?? 0
            return (change, pid)
        }

        /// The change's final status, once it has one.
        func outcome(_ change: String, within seconds: Double, from replica: Replica) async throws -> String? {
            var status: String?
            _ = try await Self.waitUntil(seconds) {
                status = Self.object(try Self.http("GET", replica.url + "/api/v1/changes/\(change)", token: token).body)["status"] as? String
                return status.map(Self.terminal.contains) ?? false
            }
            return status
        }

        /// What must hold after every fault: one start per change, at most one applied outcome, the target holding
        /// what the record says, and the chain verifying with the auditors' key.
        func checkRecord(_ change: String, status: String?) throws {
            let records = try Self.records(w, change: change)
            let actions = records.compactMap { $0["action"] as? String }
            #expect(actions.filter { $0 == "apply.started" }.count == 1, "\(change) started once: \(actions)")
            let appliedOutcomes = records.filter { ($0["action"] as? String == "apply.succeeded") || ($0["action"] as? String == "apply.recovered" && $0["after"] as? String == "applied") }
            #expect(appliedOutcomes.count <= 1, "\(change) applied at most once: \(actions)")
            #expect(actions.filter { $0 == "apply.operation" }.count <= 13, "\(change)'s operations recorded once: \(actions)")
            let content = (try? String(contentsOfFile: opcConfig, encoding: .utf8)) ?? ""
            if status == "applied" {
                #expect(content.contains(":\(4840 + round)"), "\(change) applied: the target holds round \(round)")
            } else if status == "rolled-back" {
                #expect(!content.contains(":\(4840 + round)"), "\(change) rolled back: the target does not hold round \(round)")
            }
            let verified = try w.run("audit", "verify", "--public-key", publicKey)
            #expect(verified.status == 0, "the shared chain verifies: \(verified.stdout)\(verified.stderr)")
        }

        // 1. Approved through one replica, applied exactly once by some replica.
        let first = try await approveNextChange(through: replicas[0])
        #expect(replicas.map(\.pid).contains(first.applier), "the applier \(first.applier) is one of the replicas")
        let firstStatus = try await outcome(first.id, within: 60, from: replicas[2])
        #expect(firstStatus == "applied", "\(first.id): \(firstStatus ?? "no outcome")")
        try checkRecord(first.id, status: firstStatus)

        // 2. The applying replica killed with SIGKILL mid-apply: another takes the site over after the lease.
        let second = try await approveNextChange(through: replicas[1])
        let killed = try #require(replicas.first { $0.pid == second.applier }, "the applier is a replica")
        try await Task.sleep(for: .milliseconds(300))
        let killedAt = Date()
        kill(killed.pid, SIGKILL)
        killed.process.waitUntilExit()
        replicas.removeAll { $0 === killed }
        let secondStatus = try await outcome(second.id, within: Self.lease + 90, from: replicas[0])
        takeovers.append(Date().timeIntervalSince(killedAt))
        #expect(secondStatus == "rolled-back" || secondStatus == "applied", "\(second.id) recovered: \(secondStatus ?? "no outcome")")
        // The target is lease + 5 s (measured with this test alone, docs/performance.md); the bound here leaves room
        // for a machine that runs the rest of the suite at the same time (up to 26 s seen on two cores).
        #expect(takeovers[0] <= Self.lease + 60, "taken over within lease + 60 s: \(takeovers[0]) s")
        let recovered = try Self.records(w, change: second.id).filter { $0["action"] as? String == "apply.recovered" }
        // On a loaded machine the fault can land after the apply finished; then there is nothing to recover.
        let finishedFirst = try Self.records(w, change: second.id).contains { $0["action"] as? String == "apply.succeeded" }
        #expect(finishedFirst || !recovered.isEmpty, "the record says the site was recovered")
        try checkRecord(second.id, status: secondStatus)
        replicas.append(try Replica("replica-4", workspace: w))

        // 3. The applying replica frozen past its lease: taken over; resumed, its writes are refused.
        let third = try await approveNextChange(through: replicas[0])
        let frozen = try #require(replicas.first { $0.pid == third.applier }, "the applier is a replica")
        try await Task.sleep(for: .milliseconds(300))
        let frozenAt = Date()
        kill(frozen.pid, SIGSTOP)
        let others = replicas.filter { $0 !== frozen }
        let thirdStatus = try await outcome(third.id, within: Self.lease + 90, from: others[0])
        takeovers.append(Date().timeIntervalSince(frozenAt))
        let beforeResume = try Self.records(w, change: third.id).count
        kill(frozen.pid, SIGCONT)
        // Its next write is refused: by the fence (the lease, the target) or, when it was frozen inside a transaction,
        // by the database that ended its session meanwhile.
        let refused = try await Self.waitUntil(60) { frozen.output.contains("lost its lease") || frozen.output.contains("pass failed") }
        let frozenAfterItsApply = try Self.records(w, change: third.id).contains { $0["action"] as? String == "apply.succeeded" }
        #expect(refused || frozenAfterItsApply, "the resumed replica says its write was refused: \(frozen.output.suffix(6000))")
        try await Task.sleep(for: .seconds(2))
        #expect(try Self.records(w, change: third.id).count == beforeResume, "nothing was recorded for \(third.id) after the takeover")
        #expect(thirdStatus == "rolled-back" || thirdStatus == "applied", "\(third.id) recovered: \(thirdStatus ?? "no outcome")")
        try checkRecord(third.id, status: thirdStatus)

        // 4. PostgreSQL restarted at once while a replica applies: nothing is lost, nothing applied twice.
        let fourth = try await approveNextChange(through: replicas[1])
        try await Task.sleep(for: .milliseconds(800))
        try cluster.restart()
        let fourthStatus = try await outcome(fourth.id, within: 90, from: replicas[2])
        #expect(fourthStatus == "applied" || fourthStatus == "rolled-back", "\(fourth.id) after the restart: \(fourthStatus ?? "no outcome")")
        try checkRecord(fourth.id, status: fourthStatus)
        for replica in replicas {
            let ready = try await Self.waitUntil(90) { try Self.http("GET", replica.url + "/readyz").status == 200 }
            #expect(ready, "\(replica.name) ready again after the restart")
        }

        // Per-site apply intervals: from a change's start to its outcome, never overlapping another change's.
        var intervals: [(start: Int, end: Int, change: String)] = []
        for change in [first.id, second.id, third.id, fourth.id] {
            let sequences = try Self.records(w, change: change).filter { ($0["action"] as? String ?? "").hasPrefix("apply.") || ($0["action"] as? String ?? "").hasPrefix("rollback.") }
                .compactMap { $0["sequence"] as? Int }
            if let start = sequences.min(), let end = sequences.max() { intervals.append((start, end, change)) }
        }
        intervals.sort { $0.start < $1.start }
        for (earlier, later) in zip(intervals, intervals.dropFirst()) {
            #expect(earlier.end < later.start, "\(earlier.change) and \(later.change) overlap at plant-a")
        }
        print("replica fault test: takeover after SIGKILL \(String(format: "%.1f", takeovers[0])) s, after SIGSTOP \(String(format: "%.1f", takeovers[1])) s (lease \(Int(Self.lease)) s); outcomes \([firstStatus, secondStatus, thirdStatus, fourthStatus].map { $0 ?? "none" })")
    }
}
