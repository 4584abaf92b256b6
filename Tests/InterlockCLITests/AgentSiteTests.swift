import Foundation
import Testing

/// A site reached through its agent (`via: agent`), with real processes over real TLS: the server never touches the
/// site's target; it plans from what the agent reports, sees a file made by hand at the plant in its next plan, and
/// refuses reports that do not add up or that come from another plant's agent.
@Suite(.serialized) struct AgentSiteTests {
    typealias Workspace = CommandLineTests.Workspace

    /// A workspace whose Plant B is reached through its agent, a running `serve` with an agent listener, and Plant B's
    /// agent enrolled and approved.
    final class Plant {
        let w: Workspace
        let port: Int
        let agentPort: Int
        let server: Process
        let serverLog: String
        var agent: Process?
        var agentLog = ""
        var ca: String { w.state + "/agent-ca/ca.pem" }
        var listener: String { "https://127.0.0.1:\(agentPort)" }
        var agentState: String { w.root + "/agent-b" }
        var agentTargets: String { w.root + "/plant-b-host" }

        init(environment: [String: String] = [:]) async throws {
            w = try Workspace()
            try AgentEnrolmentTests.addAdmin(w)
            try w.replace(w.repo + "/sites/plant-b/site.yaml", "  root: plant-b\n", "  root: plant-b\n  via: agent\n")
            try w.commit("Plant B is reached through its agent")
            #expect(try w.run("init").status == 0)
            port = 20000 + Int.random(in: 0..<20000)
            agentPort = port + 1
            (server, _, serverLog) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "2", "--hooks", "skip",
                                                  "--agent-address", "127.0.0.1:\(agentPort)"], environment: environment)
            let ca = self.ca, listener = self.listener
            let up = try await ReplicaFaultTests.waitUntil(60) {
                guard FileManager.default.fileExists(atPath: ca) else { return false }
                return try AgentEnrolmentTests.https("GET", listener + "/agent/v1/enrolments/none", ca: ca).status == 404
            }
            #expect(up)
            let enrol = try w.runAs("ops", ["agent", "enrol", "--site", "plant-b", "--repo", w.repo])
            let token = try #require(AgentEnrolmentTests.token(enrol.stdout)), id = try #require(AgentEnrolmentTests.enrolment(enrol.stdout))
            try startAgent(token: token, environment: environment)
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
        let desiredA = try AgentEnrolmentTests.https("GET", plant.listener + "/agent/v1/sites/plant-a/desired", ca: plant.ca, certificate: certificate, key: key)
        #expect(desiredA.status == 403)
        #expect(try w.run("audit", "verify").status == 0)
    }
}
