import Foundation
import Testing

/// The rollout the product exists for, with both plants reached through their agents: one `interlock serve` and two
/// `interlock agent` processes (Plant A and Plant B, each with its own state directory and target root) over real TLS
/// on loopback. Enrolment with an admin's approval; the commit planned from what each agent reported; Plant A's
/// manager approves and Plant A's agent applies in its window; Plant B's change, approved too, waits for Plant A's
/// bake and is then applied by Plant B's agent. The server never writes into either plant.
@Suite(.serialized) struct AgentRolloutTests {
    typealias Workspace = CommandLineTests.Workspace

    /// A window open at every moment (one opens every hour and lasts two), so the walk runs on the real clock.
    static let alwaysOpen = """
        windows:
          - name: every-hour
            start: "0 * * * *"
            duration: 2h

        """

    /// The example repository with both sites reached through their agents, windows that are always open, no
    /// freezes (they would close the gates on the calendar's dates), one approval at Plant B and a bake of 12 s.
    static func prepare(_ w: Workspace) throws {
        for site in ["plant-a", "plant-b"] {
            let file = w.repo + "/sites/\(site)/site.yaml"
            var text = try String(contentsOfFile: file, encoding: .utf8)
            text = text.replacingOccurrences(of: "  root: \(site)\n", with: "  root: \(site)\n  via: agent\n")
            let windows = try #require(text.range(of: "windows:\n")), approval = try #require(text.range(of: "approval:\n"))
            text.replaceSubrange(windows.lowerBound..<approval.lowerBound, with: alwaysOpen + "\n")
            text = text.replacingOccurrences(of: "  required: 2\n", with: "  required: 1\n")
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        try w.replace(w.repo + "/interlock.yaml", "bake: 24h", "bake: 12s")
        try w.commit("Both plants are reached through their agents; a short bake for the walk")
    }

    @Test(.timeLimit(.minutes(6))) func plantAAppliesThroughItsAgentBakesAndPlantBAppliesThroughItsOwn() async throws {
        let w = try Workspace()
        try AgentEnrolmentTests.addAdmin(w)
        try Self.prepare(w)
        #expect(try w.run("init").status == 0)
        let port = 20000 + Int.random(in: 0..<20000), agentPort = port + 1
        let (server, _, serverLog) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "2", "--hooks", "skip",
                                                  "--agent-address", "127.0.0.1:\(agentPort)"])
        var agents: [String: (process: Process, log: String)] = [:]
        defer {
            for process in [server] + agents.values.map(\.process) where process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        let ca = w.state + "/agent-ca/ca.pem", listener = "https://127.0.0.1:\(agentPort)"
        let up = try await ReplicaFaultTests.waitUntil(60) {
            try FileManager.default.fileExists(atPath: ca) && (AgentEnrolmentTests.https("GET", listener + "/agent/v1/enrolments/none", ca: ca).status == 404)
        }
        #expect(up, "the agent listener answers: \((try? String(contentsOfFile: serverLog, encoding: .utf8)) ?? "")")
        var log: String {
            ([serverLog] + agents.values.map(\.log)).map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined(separator: "\n").suffix(4000).description
        }

        // Enrolment: an operator makes each plant's token, each agent requests with it, an admin approves.
        for site in ["plant-a", "plant-b"] {
            let enrol = try w.runAs("ops", ["agent", "enrol", "--site", site, "--repo", w.repo])
            let token = try #require(AgentEnrolmentTests.token(enrol.stdout)), id = try #require(AgentEnrolmentTests.enrolment(enrol.stdout))
            let (process, _, agentLog) = try w.start(["agent", "--server", listener, "--server-ca", ca, "--state-dir", w.root + "/agent-\(site)",
                                                      "--interval", "1", "--target-base", w.root + "/\(site)-host", "--token", token],
                                                     environment: ["LOG_LEVEL": "info"])
            agents[site] = (process, agentLog)
            let requested = try await ReplicaFaultTests.waitUntil(30) {
                try w.run("agent", "list", "--repo", w.repo).stdout.split(separator: "\n").contains { $0.contains(site) && $0.contains(" requested ") }
            }
            #expect(requested, "\(log)")
            #expect(try w.runAs("it-admin", ["agent", "approve", id, "--repo", w.repo], password: "ops-pass-1").status == 0)
        }

        // Planned from what each agent reported (both plants' targets are empty: everything is to be created).
        let queue = { try w.run("queue", "--repo", w.repo).stdout }
        let planned = try await ReplicaFaultTests.waitUntil(60) {
            let text = try queue()
            return text.contains("plant-a-1  waiting") && text.contains("plant-b-1  waiting")
        }
        #expect(planned, "\((try? queue()) ?? "")\n\(log)")
        let waitingB = try queue()
        #expect(waitingB.contains("wave: plant-a (wave pilot) has not applied"), "Plant B's change names the wave gate: \(waitingB)")

        // Plant B's manager signs first: the change still waits, for Plant A (the wave gate, not the signature).
        #expect(try w.runAs("mgr-plant-b", ["approve", "plant-b-1", "--reason", "after the pilot", "--repo", w.repo]).status == 0)
        try await Task.sleep(nanoseconds: 3_000_000_000)
        #expect(try !AgentSiteTests.actions(w, change: "plant-b-1").contains("apply.started"), "Plant B does not start before Plant A applied and baked")

        // Plant A: approved in its window, applied by its agent.
        #expect(try w.runAs("mgr-plant-a", ["approve", "plant-a-1", "--reason", "pilot", "--repo", w.repo]).status == 0)
        let appliedA = try await ReplicaFaultTests.waitUntil(60) { try AgentSiteTests.actions(w, change: "plant-a-1").contains("apply.succeeded") }
        #expect(appliedA, "\((try? queue()) ?? "")\n\(log)")
        let succeededA = try #require(try ReplicaFaultTests.records(w, change: "plant-a-1").first { $0["action"] as? String == "apply.succeeded" })
        #expect((succeededA["actor"] as? [String: Any])?["id"] as? String == "agent:plant-a")
        let appliedAAt = try #require((succeededA["timestamp"] as? String).flatMap { ISO8601DateFormatter.withFractions.date(from: $0) })
        #expect(FileManager.default.fileExists(atPath: w.root + "/plant-a-host/plant-a/flows/energy-monitoring.json"))

        // Plant B: its change becomes ready only when the bake has passed, then its own agent applies it.
        let rollout = try w.run("rollout", "status", "--repo", w.repo).stdout
        // (On a loaded machine the 12 s may be over by the time the command runs: then Plant A reads "baked 12s".)
        #expect(rollout.contains("plant-a    baking") || rollout.contains("baked 12s"), "\(rollout)")
        let appliedB = try await ReplicaFaultTests.waitUntil(60) { try AgentSiteTests.actions(w, change: "plant-b-1").contains("apply.succeeded") }
        #expect(appliedB, "\((try? queue()) ?? "")\n\(log)")
        let recordsB = try ReplicaFaultTests.records(w, change: "plant-b-1")
        let startedB = try #require(recordsB.first { $0["action"] as? String == "apply.started" })
        #expect((startedB["actor"] as? [String: Any])?["id"] as? String == "agent:plant-b")
        if let text = startedB["timestamp"] as? String, let at = ISO8601DateFormatter.withFractions.date(from: text) {
            #expect(at.timeIntervalSince(appliedAAt) >= 12, "Plant B started only after Plant A's 12 s bake")
        }
        #expect(FileManager.default.fileExists(atPath: w.root + "/plant-b-host/plant-b/flows/energy-monitoring.json"))
        for site in ["plant-a", "plant-b"] {
            #expect(!FileManager.default.fileExists(atPath: w.targets + "/\(site)"), "the server wrote nothing into \(site) itself")
        }
        let status = try w.run("status", "--repo", w.repo).stdout
        #expect(!status.contains("changes-pending"), "both plants hold the commit: \(status)")
        #expect(try w.run("audit", "verify").status == 0)
    }
}
