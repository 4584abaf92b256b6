import Foundation
import Testing

/// A site reached through its agent (`via: agent`), with real processes over real TLS: the server never touches the
/// site's target; it plans from what the agent reports, sees a file made by hand at the plant in its next plan, and
/// refuses reports that do not add up or that come from another plant's agent.
@Suite(.serialized) struct AgentSiteTests {
    typealias Workspace = CommandLineTests.Workspace

    /// A workspace whose site (Plant B unless said otherwise) is reached through its agent, a running `serve` with an
    /// agent listener, and the site's agent enrolled and approved.
    final class Plant {
        let site: String
        let w: Workspace
        let port: Int
        let agentPort: Int
        var server: Process
        var serverLog: String
        var agent: Process?
        var agentLog = ""
        var ca: String { w.state + "/agent-ca/ca.pem" }
        var listener: String { "https://127.0.0.1:\(agentPort)" }
        var agentState: String { w.root + "/agent-\(site)" }
        var agentTargets: String { w.root + "/\(site)-host" }
        let serverEnvironment: [String: String]

        init(site: String = "plant-b", serverEnvironment: [String: String] = [:], agentEnvironment: [String: String] = [:], lease: Int? = nil) async throws {
            self.site = site
            self.serverEnvironment = serverEnvironment
            w = try Workspace()
            try AgentEnrolmentTests.addAdmin(w)
            try w.replace(w.repo + "/sites/\(site)/site.yaml", "  root: \(site)\n", "  root: \(site)\n  via: agent\n")
            try w.commit("\(site) is reached through its agent")
            #expect(try w.run("init").status == 0)
            port = 20000 + Int.random(in: 0..<20000)
            agentPort = port + 1
            (server, _, serverLog) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "2", "--hooks", "skip",
                                                  "--agent-address", "127.0.0.1:\(agentPort)"] + (lease.map { ["--lease-duration", String($0)] } ?? []),
                                                 environment: serverEnvironment)
            let ca = self.ca, listener = self.listener
            let up = try await ReplicaFaultTests.waitUntil(60) {
                guard FileManager.default.fileExists(atPath: ca) else { return false }
                return try AgentEnrolmentTests.https("GET", listener + "/agent/v1/enrolments/none", ca: ca).status == 404
            }
            #expect(up)
            let enrol = try w.runAs("ops", ["agent", "enrol", "--site", site, "--repo", w.repo])
            let token = try #require(AgentEnrolmentTests.token(enrol.stdout)), id = try #require(AgentEnrolmentTests.enrolment(enrol.stdout))
            try startAgent(token: token, environment: agentEnvironment)
            let w = self.w
            let requested = try await ReplicaFaultTests.waitUntil(30) { try w.run("agent", "list", "--repo", w.repo).stdout.contains(" requested ") }
            #expect(requested)
            #expect(try w.runAs("it-admin", ["agent", "approve", id, "--repo", w.repo], password: "ops-pass-1").status == 0)
        }

        func startAgent(token: String? = nil, environment: [String: String] = [:]) throws {
            var arguments = ["agent", "--server", listener, "--server-ca", ca, "--state-dir", agentState, "--interval", "1", "--target-base", agentTargets]
            if let token { arguments += ["--token", token] }
            let (process, _, log) = try w.start(arguments, environment: environment.merging(["LOG_LEVEL": "info"]) { $1 })
            agent = process
            agentLog = log
        }

        /// Stops the server (SIGKILL), waits for `condition`, and starts it again on the same ports.
        func restartServer(after condition: () async throws -> Bool) async throws {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            #expect(try await condition())
            (server, _, serverLog) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "2", "--hooks", "skip",
                                                  "--agent-address", "127.0.0.1:\(agentPort)", "--lease-duration", "5"], environment: serverEnvironment)
        }

        func stop() {
            for process in [agent, server].compactMap({ $0 }) where process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        var log: String { ((try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? "") + ((try? String(contentsOfFile: serverLog, encoding: .utf8)) ?? "") }

        func queue() throws -> String { try w.run("queue", "--repo", w.repo).stdout }
    }

    @Test(.timeLimit(.minutes(4))) func theServerPlansFromTheAgentsReportAndNeverTouchesTheTarget() async throws {
        let plant = try await Plant()
        defer { plant.stop() }
        let w = plant.w
        // Planned from the (empty) target the agent reported: every resource is to be created.
        let planned = try await ReplicaFaultTests.waitUntil(60) { try plant.queue().contains("plant-b-1  waiting") }
        #expect(planned, "plant-b planned from the agent's report: \((try? plant.queue()) ?? "")\n\(plant.log.suffix(3000))")
        #expect(!FileManager.default.fileExists(atPath: w.targets + "/plant-b"), "the server never touches a site reached through its agent")
        let status = try w.run("status", "--repo", w.repo).stdout
        #expect(status.contains("plant-b  changes-pending"), "\(status)")
        #expect(try w.run("sites", "--repo", w.repo).stdout.contains("files plant-b via agent"))

        // A file made by hand at the plant, at a path the plan writes: the next report shows it and the plan changes.
        let flows = plant.agentTargets + "/plant-b/flows"
        try FileManager.default.createDirectory(atPath: flows, withIntermediateDirectories: true)
        try Data("{\"made\": \"by hand\"}\n".utf8).write(to: URL(fileURLWithPath: flows + "/energy-monitoring.json"))
        let replanned = try await ReplicaFaultTests.waitUntil(60) { try plant.queue().contains("plant-b-2  waiting") }
        #expect(replanned, "\((try? plant.queue()) ?? "")")
        let plan = try w.run("plan", "--site", "plant-b", "--repo", w.repo).stdout
        #expect(plan.contains("~ flows/energy-monitoring") && plan.contains("by hand"), "\(plan)")
        let superseded = try ReplicaFaultTests.records(w).filter { $0["action"] as? String == "change.superseded" }
        #expect(!superseded.isEmpty)

        // The agent's certificate and key, used by hand: a report that does not add up is refused, another plant's too.
        let certificate = plant.agentState + "/certificate.pem", key = plant.agentState + "/key.pem"
        let forged = "{\"desiredVersion\": \"x\", \"fingerprint\": \"sha256:\(String(repeating: "0", count: 64))\", \"resources\": []}"
        let refused = try AgentEnrolmentTests.https("POST", plant.listener + "/agent/v1/sites/plant-b/observations", ca: plant.ca,
                                                    certificate: certificate, key: key, json: forged)
        #expect(refused.status == 400 && refused.body.contains("do not add up"), "\(refused.body)")
        let crossed = try AgentEnrolmentTests.https("POST", plant.listener + "/agent/v1/sites/plant-a/observations", ca: plant.ca,
                                                    certificate: certificate, key: key, json: forged)
        #expect(crossed.status == 403)
        let desiredA = try AgentEnrolmentTests.https("GET", plant.listener + "/agent/v1/sites/plant-a/poll?wait=0", ca: plant.ca, certificate: certificate, key: key)
        #expect(desiredA.status == 403)
        #expect(try w.run("audit", "verify").status == 0)
    }

    /// Every file under `root` (the plant's target as the agent sees it), without Interlock's own bookkeeping.
    static func tree(_ root: String) -> [String: Data] {
        var files: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return files }
        for case let path as String in walker where !path.hasPrefix(".interlock") {
            var directory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &directory), !directory.boolValue {
                files[path] = FileManager.default.contents(atPath: root + "/" + path)
            }
        }
        return files
    }

    static func actions(_ w: Workspace, change: String) throws -> [String] {
        try ReplicaFaultTests.records(w, change: change).compactMap { $0["action"] as? String }
    }

    @Test(.timeLimit(.minutes(6))) func aPlantAppliesThroughItsAgentAndCrashesLeaveOneTruthfulResult() async throws {
        // The first agent is killed right after its first result reached the server, before it could report again.
        let plant = try await Plant(site: "plant-a", serverEnvironment: CommandLineTests.insideWindow,
                                    agentEnvironment: ["INTERLOCK_TEST_CRASH_AT": "agent-result-delivered:1"], lease: 5)
        defer { plant.stop() }
        let w = plant.w
        let planned = try await ReplicaFaultTests.waitUntil(60) { try plant.queue().contains("plant-a-1  waiting") }
        #expect(planned, "\((try? plant.queue()) ?? "")\n\(plant.log.suffix(3000))")

        // Approved in its window: the agent receives it at once (long poll), claims it and applies it in the plant.
        let approvedAt = Date()
        #expect(try w.runAs("mgr-plant-a", ["approve", "plant-a-1", "--reason", "first deployment through the agent", "--repo", w.repo]).status == 0)
        let applied = try await ReplicaFaultTests.waitUntil(60) { try Self.actions(w, change: "plant-a-1").contains("apply.succeeded") }
        #expect(applied, "\((try? plant.queue()) ?? "")\n\(plant.log.suffix(4000))")
        let root = plant.agentTargets + "/plant-a"
        #expect(FileManager.default.fileExists(atPath: root + "/flows/energy-monitoring.json"))
        #expect(!FileManager.default.fileExists(atPath: w.targets + "/plant-a"), "the server wrote nothing itself")
        let records = try ReplicaFaultTests.records(w, change: "plant-a-1")
        let started = try #require(records.first { $0["action"] as? String == "apply.started" })
        #expect((started["actor"] as? [String: Any])?["id"] as? String == "agent:plant-a")
        let operations = records.filter { $0["action"] as? String == "apply.operation" }.count
        #expect(operations == 27 && records.filter { $0["action"] as? String == "apply.succeeded" }.count == 1)
        if let text = started["timestamp"] as? String, let at = ISO8601DateFormatter.withFractions.date(from: text) {
            print("agent apply started \(String(format: "%.2f", at.timeIntervalSince(approvedAt))) s after the approval command began")
        }
        // The result carried what the agent saw after the apply: the server plans against that, not against the
        // report from before the apply (which would queue the same 27 files again), though the agent is gone.
        let agentGone = try await ReplicaFaultTests.waitUntil(30) { plant.agent?.isRunning == false }
        #expect(agentGone, "the crash point after the result stopped the agent")
        try await Task.sleep(nanoseconds: 5_000_000_000)  // two reconcile passes (--interval 2)
        #expect(try Self.waiting(plant) == nil, "nothing to do after the apply: \((try? plant.queue()) ?? "")")
        let after = try w.run("plan", "--site", "plant-a", "--repo", w.repo)
        #expect(after.status == 0 && !after.stdout.contains("+ flows/"), "\(after.stdout)")

        // A change whose apply the agent is killed in the middle of (SIGKILL): restarted, it finds the site half
        // written, rolls it back from its journal, and reports exactly one result.
        let before = Self.tree(root)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4840", "opcua_port: 4841")
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "mqtt.plant-a.example.internal", "mqtt2.plant-a.example.internal")
        try w.commit("New broker and OPC UA port")
        plant.agent.map { kill($0.processIdentifier, SIGKILL); $0.waitUntilExit() }
        try plant.startAgent(environment: ["INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS": "2000"])
        // (Its number depends on how many plans the reports in between gave: the waiting one is the change.)
        let second = try await ReplicaFaultTests.waitUntil(60) { try Self.waiting(plant) != nil }
        let change = try #require(try Self.waiting(plant), "\(second) \((try? plant.queue()) ?? "")")
        #expect(try w.runAs("mgr-plant-a", ["approve", change, "--reason", "broker move", "--repo", w.repo]).status == 0)
        let halfway = try await ReplicaFaultTests.waitUntil(60) { Self.tree(root) != before }
        #expect(halfway, "the agent started writing: \(plant.log.suffix(3000))")
        plant.agent.map { kill($0.processIdentifier, SIGKILL); $0.waitUntilExit() }
        #expect(try !Self.actions(w, change: change).contains { ["apply.succeeded", "apply.failed"].contains($0) },
                "while the agent is away the record says neither applied nor failed: \((try? Self.actions(w, change: change)) ?? [])")
        try plant.startAgent()
        let settled = try await ReplicaFaultTests.waitUntil(60) {
            try Self.actions(w, change: change).contains { ["apply.succeeded", "rollback.completed", "rollback.failed"].contains($0) }
        }
        #expect(settled, "\((try? plant.queue()) ?? "")\n\(plant.log.suffix(3000))")
        let outcomes = try Self.actions(w, change: change).filter { ["apply.succeeded", "apply.failed"].contains($0) }
        #expect(outcomes.count == 1, "exactly one result: \(outcomes)")
        if try Self.actions(w, change: change).contains("rollback.completed") {
            #expect(Self.tree(root) == before, "rolled back: every file as it was")
        }

        #expect(try w.run("audit", "verify").status == 0)
    }

    /// The id of the site's change that waits (for a signature or a window), if any.
    static func waiting(_ plant: Plant) throws -> String? {
        let line = try plant.queue().split(separator: "\n").first { $0.hasPrefix(plant.site + "-") && $0.contains(" waiting") }
        return line?.split(separator: " ").first.map(String.init)
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// What the issue's hostile and unlucky cases come to, in one plant: the server dies while the agent finishes an
    /// apply (the result arrives exactly once when it is back); a cloned certificate loses the second claim; drift
    /// made at the plant between approval and apply is refused; an agent an hour off refuses to apply. (An expired
    /// certificate: AgentEnrolmentTests.)
    @Test(.timeLimit(.minutes(8))) func theServerGoingAwayAClonedCertificateDriftAndClockSkewAreHandled() async throws {
        let plant = try await Plant(site: "plant-a", serverEnvironment: CommandLineTests.insideWindow,
                                    agentEnvironment: ["INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS": "300"], lease: 5)
        defer { plant.stop() }
        let w = plant.w
        let root = plant.agentTargets + "/plant-a"
        let outbox = plant.agentState + "/outbox"
        let planned = try await ReplicaFaultTests.waitUntil(60) { try plant.queue().contains("plant-a-1  waiting") }
        #expect(planned, "\((try? plant.queue()) ?? "")\n\(plant.log.suffix(3000))")

        // 1. The server is killed while the agent applies: the agent finishes, keeps the result in its outbox, and
        //    delivers it once the server is back — recorded exactly once.
        #expect(try w.runAs("mgr-plant-a", ["approve", "plant-a-1", "--reason", "first deployment", "--repo", w.repo]).status == 0)
        let writing = try await ReplicaFaultTests.waitUntil(60) { !Self.tree(root).isEmpty }
        #expect(writing, "the agent started writing: \(plant.log.suffix(3000))")
        try await plant.restartServer {
            try await ReplicaFaultTests.waitUntil(60) { FileManager.default.fileExists(atPath: outbox + "/plant-a-1.json") }
        }
        #expect(try !Self.actions(w, change: "plant-a-1").contains("apply.succeeded"), "nothing recorded while the server was away")
        let delivered = try await ReplicaFaultTests.waitUntil(90) { try Self.actions(w, change: "plant-a-1").contains("apply.succeeded") }
        #expect(delivered, "\(plant.log.suffix(4000))")
        let emptied = try await ReplicaFaultTests.waitUntil(30) { !FileManager.default.fileExists(atPath: outbox + "/plant-a-1.json") }
        #expect(emptied, "the outbox lets go of a result once the server has it")
        #expect(try Self.actions(w, change: "plant-a-1").filter { $0 == "apply.succeeded" }.count == 1)
        #expect(!FileManager.default.fileExists(atPath: outbox + "/refused"), "no result was refused")
        #expect(FileManager.default.fileExists(atPath: root + "/flows/energy-monitoring.json"))

        // 2. A cloned certificate (the agent's files copied to another host): of two claims, the second loses.
        //    (The agent reports the new commit's live state, then stops: the change waits for it.)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4840", "opcua_port: 4841")
        try w.commit("OPC UA port 4841")
        let second = try await ReplicaFaultTests.waitUntil(60) { try Self.waiting(plant) != nil }
        let change = try #require(try Self.waiting(plant), "\(second) \((try? plant.queue()) ?? "")")
        plant.agent.map { kill($0.processIdentifier, SIGKILL); $0.waitUntilExit() }
        #expect(try w.runAs("mgr-plant-a", ["approve", change, "--reason", "port move", "--repo", w.repo]).status == 0)
        let certificate = plant.agentState + "/certificate.pem", key = plant.agentState + "/key.pem"
        var work: [String: Any] = [:]
        let handedOver = try await ReplicaFaultTests.waitUntil(30) {
            let poll = try AgentEnrolmentTests.https("GET", plant.listener + "/agent/v1/sites/plant-a/poll?wait=2", ca: plant.ca, certificate: certificate, key: key)
            work = Self.json(poll.body)["work"] as? [String: Any] ?? [:]
            return work["change"] as? String == change
        }
        #expect(handedOver, "the approved change is handed over on the poll")
        let planID = try #require(work["planID"] as? String)
        let claim = "{\"planID\": \"\(planID)\", \"agentTime\": \"\(ISO8601DateFormatter().string(from: Date()))\"}"
        let first = try AgentEnrolmentTests.https("POST", plant.listener + "/agent/v1/sites/plant-a/changes/\(change)/claim", ca: plant.ca,
                                                  certificate: certificate, key: key, json: claim)
        let clone = try AgentEnrolmentTests.https("POST", plant.listener + "/agent/v1/sites/plant-a/changes/\(change)/claim", ca: plant.ca,
                                                  certificate: certificate, key: key, json: claim)
        #expect(first.status == 200, "\(first.body)")
        #expect(clone.status == 409 && clone.body.contains("not ready"), "\(clone.status) \(clone.body)")
        #expect(try Self.actions(w, change: change).filter { $0 == "apply.started" }.count == 1)
        // The holder of the first claim gives it up (nothing written): the change is superseded and planned again.
        let token = try #require(Self.json(first.body)["token"] as? Int)
        let aborted = "{\"change\": \"\(change)\", \"planID\": \"\(planID)\", \"token\": \(token), \"outcome\": \"aborted\", \"reason\": \"test: the clone gives up\","
            + " \"applied\": [], \"hooks\": [], \"notAsBefore\": [], \"recovered\": false, \"finishedAt\": \"\(ISO8601DateFormatter().string(from: Date()))\"}"
        let gaveUp = try AgentEnrolmentTests.https("POST", plant.listener + "/agent/v1/sites/plant-a/changes/\(change)/result", ca: plant.ca,
                                                   certificate: certificate, key: key, json: aborted)
        #expect(gaveUp.status == 200, "\(gaveUp.body)")
        let again = try AgentEnrolmentTests.https("POST", plant.listener + "/agent/v1/sites/plant-a/changes/\(change)/result", ca: plant.ca,
                                                  certificate: certificate, key: key, json: aborted)
        #expect(again.status == 200 && again.body.contains("already-recorded"), "the same result twice is harmless: \(again.body)")
        let conflicting = aborted.replacingOccurrences(of: "\"aborted\"", with: "\"applied\"")
        let conflict = try AgentEnrolmentTests.https("POST", plant.listener + "/agent/v1/sites/plant-a/changes/\(change)/result", ca: plant.ca,
                                                     certificate: certificate, key: key, json: conflicting)
        #expect(conflict.status == 409, "a conflicting result: \(conflict.status) \(conflict.body)")

        // 3. Drift made at the plant between approval and apply: the agent re-observes, refuses, writes nothing.
        let third = try await ReplicaFaultTests.waitUntil(60) { try Self.waiting(plant).map { $0 != change } ?? false }
        let replanned = try #require(try Self.waiting(plant), "\(third) \((try? plant.queue()) ?? "")")
        #expect(try w.runAs("mgr-plant-a", ["approve", replanned, "--reason", "port move, again", "--repo", w.repo]).status == 0)
        let handEdit = Data("{\"edited\": \"at the plant, after the approval\"}\n".utf8)
        try handEdit.write(to: URL(fileURLWithPath: root + "/flows/energy-monitoring.json"))
        let before = Self.tree(root)
        let ready = try await ReplicaFaultTests.waitUntil(30) { try plant.queue().contains("\(replanned)  ready") }
        #expect(ready, "\((try? plant.queue()) ?? "")")
        try plant.startAgent()
        let refused = try await ReplicaFaultTests.waitUntil(60) { try Self.actions(w, change: replanned).contains("apply.aborted") }
        #expect(refused, "\(plant.log.suffix(3000))")
        #expect(try !Self.actions(w, change: replanned).contains("apply.succeeded"))
        #expect(Self.tree(root) == before, "nothing was written over the drift")
        let drift = try ReplicaFaultTests.records(w, change: replanned).filter { $0["action"] as? String == "drift.detected" }
        #expect(drift.contains { ($0["resource"] as? String)?.contains("energy-monitoring") == true }, "the drift is in the record")

        // 4. An agent whose clock is an hour ahead refuses to apply, and says so in the record.
        plant.agent.map { kill($0.processIdentifier, SIGKILL); $0.waitUntilExit() }
        let fourth = try await ReplicaFaultTests.waitUntil(60) { try Self.waiting(plant).map { $0 != replanned } ?? false }
        let skewed = try #require(try Self.waiting(plant), "\(fourth) \((try? plant.queue()) ?? "")")
        #expect(try w.runAs("mgr-plant-a", ["approve", skewed, "--reason", "revert the hand edit and move the port", "--repo", w.repo]).status == 0)
        let skewedReady = try await ReplicaFaultTests.waitUntil(30) { try plant.queue().contains("\(skewed)  ready") }
        #expect(skewedReady, "\((try? plant.queue()) ?? "")")
        try plant.startAgent(environment: ["INTERLOCK_TEST_AGENT_CLOCK_OFFSET_SECONDS": "3600"])
        let skewRefused = try await ReplicaFaultTests.waitUntil(60) { try Self.actions(w, change: skewed).contains("apply.refused") }
        #expect(skewRefused, "\(((try? String(contentsOfFile: plant.agentLog, encoding: .utf8)) ?? "").suffix(3000))")
        let refusal = try ReplicaFaultTests.records(w, change: skewed).first { $0["action"] as? String == "apply.refused" }
        #expect((refusal?["details"] as? [String: Any])?["kind"] as? String == "clock-skew")
        #expect((refusal?["actor"] as? [String: Any])?["id"] as? String == "agent:plant-a")
        #expect(try !Self.actions(w, change: skewed).contains("apply.started"), "not claimed")
        #expect(Self.tree(root) == before, "nothing written by the skewed agent")
        #expect(try w.run("audit", "verify").status == 0)
    }
}
