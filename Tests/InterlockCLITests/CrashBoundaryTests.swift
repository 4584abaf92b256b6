import Foundation
import Testing

/// `kill -9` at every step boundary of a multi-file apply with hooks — after the claim, after each file, before each
/// hook, before the outcome is recorded, after each step of a rollback, and after each file of an `--ungated` first
/// deployment — and the next start leaves the site all-old or all-new with a record that says which.
/// The process kills itself with SIGKILL at the boundary (`INTERLOCK_TEST_CRASH_AT`), a real SIGKILL of a real process.
@Suite(.serialized) struct CrashBoundaryTests {
    typealias Workspace = CommandLineTests.Workspace

    /// Hooks that work on any machine: reload does nothing, health checks the broker's file (or always fails).
    static func brokerHooks(_ w: Workspace, healthFails: Bool) throws {
        let broker = w.repo + "/components/mqtt-broker.yaml"
        try w.replace(broker, "command: [systemctl, reload, mosquitto]", "command: [\"true\"]")
        try w.replace(broker,
                      "  command:\n    - mosquitto_sub\n    - -L\n    - \"mqtt://localhost:${config.port}/$SYS/broker/uptime\"\n    - -C\n    - \"1\"\n    - -W\n    - \"5\"\n",
                      healthFails ? "  command: [sh, -c, \"exit 1\"]\n" : "  command: [sh, -c, \"test -s \\\"$INTERLOCK_TARGET_ROOT/mosquitto/mosquitto.conf\\\"\"]\n")
    }

    /// plant-a deployed; an approved change of four broker resources (config, three files) waiting in its window.
    func approvedBrokerChange(healthFails: Bool) throws -> (Workspace, before: [String: Data]) {
        let w = try Workspace()
        try Self.brokerHooks(w, healthFails: false)
        try w.commit("Broker hooks that work here")
        #expect(try w.run("init").status == 0)
        #expect(try w.deployDirectly("plant-a").status == 0)
        if healthFails {
            try w.replace(w.repo + "/components/mqtt-broker.yaml", "command: [sh, -c, \"test -s", "command: [sh, -c, \"exit 1; test -s")
        }
        let broker = w.repo + "/components/mqtt-broker.yaml"
        try w.replace(broker, "max_connections: 1000", "max_connections: 1500")
        try w.replace(broker, "      max_connections 200", "      max_connections 300")
        try w.replace(broker, "      # Ignition gateway: sees everything", "      # Ignition gateway (line PLCs included): sees everything")
        try w.commit("Broker limits and ACL")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: GateTrustTests.outsideWindows).status == 0)
        let approve = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "limits agreed", "--repo", w.repo])
        #expect(approve.status == 0, "\(approve.stderr)")
        return (w, CommandLineTests().tree(w.targets + "/plant-a"))
    }

    func status(_ w: Workspace, _ change: String) throws -> String? {
        let queue = try w.run(["queue", "--all", "--repo", w.repo, "--json"], environment: [:])
        let object = try JSONSerialization.jsonObject(with: Data(queue.stdout.utf8)) as? [String: Any]
        let changes = object?["changes"] as? [[String: Any]] ?? []
        return changes.first { $0["id"] as? String == change }?["status"] as? String
    }

    /// Recovers with the next command and checks that the site is all-old (recorded rolled back) or all-new (recorded
    /// applied), and that nothing is left applying.
    func recoverAndCheck(_ w: Workspace, change: String, before: [String: Data], boundary: String) throws -> String {
        let recover = try w.run(["reconcile", "--hooks", "run", "--repo", w.repo], environment: CommandLineTests.insideWindow)
        #expect(recover.stdout.contains("recovered \(change)"), "\(boundary): \(recover.stdout)\(recover.stderr)")
        let recorded = try status(w, change)
        let tree = CommandLineTests().tree(w.targets + "/plant-a")
        switch recorded {
        case "rolled-back":
            #expect(tree == before, "\(boundary): recorded rolled back, so every file is as before")
        case "applied":
            let plan = try w.run("plan", "--site", "plant-a", "--repo", w.repo)
            #expect(plan.status == 0, "\(boundary): recorded applied, so the site matches the commit: \(plan.stdout)")
        default:
            Issue.record("\(boundary): \(change) is \(recorded ?? "missing") after recovery, neither applied nor rolled back")
        }
        #expect(try w.run("audit", "verify").status == 0)
        return recorded ?? "?"
    }

    /// Kills `apply` at `boundary` (`name:n`); false when the apply never reached it (it ended normally).
    func crash(_ w: Workspace, _ arguments: [String], at boundary: String, user: String = "ops") throws -> Bool {
        let environment = CommandLineTests.insideWindow.merging(["INTERLOCK_TEST_CRASH_AT": boundary]) { $1 }
        let result = try w.runAs(user, arguments, environment: environment)
        return result.status == SIGKILL
    }

    @Test func killedAtEveryBoundaryOfAnApplyWithHooksTheSiteIsAllOldOrAllNewAndSaysWhich() throws {
        var walked: [String: String] = [:]
        for name in ["claimed", "operation", "hook", "recording"] {
            for count in 1... {
                let boundary = "\(name):\(count)"
                let (w, before) = try approvedBrokerChange(healthFails: false)
                guard try crash(w, ["apply", "--change", "plant-a-2", "--repo", w.repo], at: boundary) else {
                    #expect(count > 1, "\(boundary) was never reached")
                    break
                }
                walked[boundary] = try recoverAndCheck(w, change: "plant-a-2", before: before, boundary: boundary)
            }
        }
        // After the claim nothing is written: rolled back; once every file is written the reload and health run again.
        #expect(walked["claimed:1"] == "rolled-back")
        #expect(walked["operation:1"] == "rolled-back", "one of four files written: rolled back from the journal")
        #expect(walked["operation:4"] == "applied", "every file written: applied after the hooks ran again")
        #expect(walked["recording:1"] == "applied")
        #expect(walked.keys.filter { $0.hasPrefix("operation:") }.count == 4)
        #expect(walked.keys.filter { $0.hasPrefix("hook:") }.count == 2)
        print("crash boundaries walked (apply with hooks): \(walked.count): \(walked.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })")
    }

    @Test func eachStepIsRecordedWhenItHappensNotInOneBatchAtTheEnd() throws {
        let (w, _) = try approvedBrokerChange(healthFails: false)
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "command: [sh, -c, \"test -s", "command: [sh, -c, \"sleep 1.5; test -s")
        try w.commit("A slow health check")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: GateTrustTests.outsideWindows).status == 0)
        #expect(try w.runAs("mgr-plant-a", ["approve", "plant-a-3", "--reason", "slow check", "--repo", w.repo]).status == 0)
        let apply = try w.runAs("ops", ["apply", "--change", "plant-a-3", "--repo", w.repo], environment: CommandLineTests.insideWindow)
        #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
        let log = try w.run("audit", "log", "--json", "--limit", "0", "--change", "plant-a-3")
        let records = (try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [String: Any])?["records"] as? [[String: Any]] ?? []
        func time(_ action: String) -> Date? {
            (records.first { $0["action"] as? String == action }?["timestamp"] as? String).flatMap { ISO8601DateFormatter.withFractions.date(from: $0) }
        }
        let operation = try #require(time("apply.operation")), health = try #require(time("health.succeeded"))
        #expect(health.timeIntervalSince(operation) >= 1.4, "the operations were recorded when made, the health check when it ended")
    }

    @Test func killedAtEveryStepOfARollbackTheRecordSaysRolledBackOnlyWhenEveryFileIsOld() throws {
        var walked: [String: String] = [:]
        for count in 1... {
            let boundary = "rollback:\(count)"
            let (w, before) = try approvedBrokerChange(healthFails: true)
            guard try crash(w, ["apply", "--change", "plant-a-2", "--repo", w.repo], at: boundary) else {
                #expect(count > 1, "\(boundary) was never reached")
                break
            }
            walked[boundary] = try recoverAndCheck(w, change: "plant-a-2", before: before, boundary: boundary)
            #expect(walked[boundary] == "rolled-back", "the health check fails again, so the change ends rolled back")
        }
        #expect(walked.count == 4)
        print("crash boundaries walked (rollback): \(walked.count)")
    }

    @Test func killedAtEveryFileOfAnUngatedFirstDeploymentItIsRecoveredAndRecorded() throws {
        var walked: [String: String] = [:]
        for count in 1... {
            let boundary = "operation:\(count)"
            let w = try Workspace()
            #expect(try w.run("init").status == 0)
            let plan = try w.run("plan", "--site", "plant-a", "--repo", w.repo, "--json")
            let id = try #require(plan.stdout.components(separatedBy: "\"id\": \"sha256:").dropFirst().first?.prefix(12)).description
            guard try crash(w, ["apply", "--site", "plant-a", "--plan", id, "--ungated", "--hooks", "skip", "--repo", w.repo], at: boundary) else {
                #expect(count > 20, "the first deployment writes every file of plant-a")
                break
            }
            let recover = try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: CommandLineTests.insideWindow)
            #expect(recover.stdout.contains("recovered plant-a-1"), "\(boundary): \(recover.stdout)\(recover.stderr)")
            let recorded = try status(w, "plant-a-1")
            let tree = CommandLineTests().tree(w.targets + "/plant-a")
            if recorded == "rolled-back" {
                #expect(tree.isEmpty, "\(boundary): rolled back, so nothing of the first deployment is left")
            } else {
                #expect(recorded == "applied", "\(boundary): \(recorded ?? "missing")")
                #expect(try w.run("plan", "--site", "plant-a", "--repo", w.repo).status == 0)
            }
            walked[boundary] = recorded
        }
        print("crash boundaries walked (ungated first deployment): \(walked.count)")
        #expect(walked.values.filter { $0 == "applied" }.count == 1, "only a kill after the last file leaves it applied")
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
