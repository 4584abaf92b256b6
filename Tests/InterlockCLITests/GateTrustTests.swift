import Foundation
import Testing

/// The gates cannot be talked around: a commit cannot weaken its own gate or retarget its site unnoticed, every CLI
/// signature is authenticated against the trusted configuration, four eyes look at every commit of a change, `--ungated`
/// is for first deployments only, a simulated clock is a recorded rehearsal, and a plan id must be one.
/// Real git repositories, real state directories and targets, the real binary (and `serve` as a real process).
@Suite(.serialized) struct GateTrustTests {
    typealias Workspace = CommandLineTests.Workspace

    /// Wednesday noon at Plant A: no window is open (weekend and weekday changeover only), no freeze.
    static let outsideWindows = ["INTERLOCK_NOW": "2026-12-02T12:00:00+01:00", "INTERLOCK_REHEARSAL": "1"]

    /// A workspace with the state directory initialised (trusting its configuration) and plant-a deployed.
    func deployedPlantA() throws -> Workspace {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        let deploy = try w.deployDirectly("plant-a")
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        return w
    }

    func queueJSON(_ w: Workspace) throws -> [[String: Any]] {
        let queue = try w.run(["queue", "--repo", w.repo, "--json"], environment: Self.outsideWindows)
        let object = try JSONSerialization.jsonObject(with: Data(queue.stdout.utf8)) as? [String: Any]
        return object?["changes"] as? [[String: Any]] ?? []
    }

    /// Every audit record, oldest first, as `audit log --json` prints it.
    func auditRecords(_ w: Workspace) throws -> [[String: Any]] {
        let log = try w.run("audit", "log", "--json", "--limit", "0")
        let object = try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [String: Any]
        return object?["records"] as? [[String: Any]] ?? []
    }

    func brokerFile(_ w: Workspace) throws -> String {
        try String(contentsOfFile: w.targets + "/plant-a/mosquitto/mosquitto.conf", encoding: .utf8)
    }

    /// The commit of case 1: plant-a's policy becomes `auto` and the broker's connection limit changes in one commit.
    func commitWeakeningPlantA(_ w: Workspace) throws {
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "    gate: approval+window", "    gate: auto")
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "    gate: window", "    gate: auto")
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        try w.commit("Switch off the gate and raise the broker limit")
    }

    @Test func aCommitThatSwitchesOffItsOwnGateStillWaitsForApprovalAndAWindow() throws {
        let w = try deployedPlantA()
        let before = try brokerFile(w)
        try commitWeakeningPlantA(w)

        let reconcile = try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows)
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        #expect(reconcile.stdout.contains("gate approval+window"), "\(reconcile.stdout)")
        #expect(reconcile.stdout.contains("changes this site's approval rules"))
        let change = try #require(try queueJSON(w).first { $0["site"] as? String == "plant-a" })
        #expect(change["gate"] as? String == "approval+window")
        let rules = change["ruleChanges"] as? [[String: Any]] ?? []
        #expect(rules.contains { $0["field"] as? String == "policy" && ($0["new"] as? String)?.contains("*: auto") == true })

        // Neither an operator's apply nor the loop applies it: no approval, no window.
        let apply = try w.runAs("ops", ["apply", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows)
        #expect(apply.stdout.contains("approval: 0 of 1"), "\(apply.stdout)\(apply.stderr)")
        let run = try w.run(["run", "--passes", "1", "--interval", "1", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try brokerFile(w) == before, "the broker's configuration is unchanged")
        #expect(!(try w.auditActions().contains("apply.started")))
    }

    @Test func serveDoesNotApplyACommitThatSwitchesOffItsOwnGate() throws {
        let w = try deployedPlantA()
        let before = try brokerFile(w)
        try commitWeakeningPlantA(w)
        let port = 20000 + Int.random(in: 0..<20000)
        let (serve, out, err) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "1", "--hooks", "skip"],
                                            environment: Self.outsideWindows)
        defer { if serve.isRunning { serve.terminate(); serve.waitUntilExit() } }
        let deadline = Date().addingTimeInterval(30)
        var queued = false
        while Date() < deadline, !queued {
            usleep(300_000)
            queued = (try? w.auditActions().contains("change.queued")) == true
        }
        #expect(queued, "serve queued the change: \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        sleep(3)  // several more passes
        serve.terminate()
        serve.waitUntilExit()
        #expect(try brokerFile(w) == before, "serve did not apply it: \((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")")
        let change = try #require(try queueJSON(w).first { $0["site"] as? String == "plant-a" })
        #expect(change["status"] as? String == "waiting")
        #expect(change["gate"] as? String == "approval+window")
    }

    @Test func aCommitCannotLowerItsApprovalsOrListItsOwnApproverOrMoveItsSiteToAnEarlierWave() throws {
        let w = try deployedPlantA()
        #expect(try w.deployDirectly("plant-b").status == 0)
        // Plant B (two approvals, fleet wave after a 24 h bake at Plant A) is made a one-approval pilot site whose
        // author may approve, in the same commit that moves both plants' OPC UA servers.
        try w.replace(w.repo + "/sites/plant-b/site.yaml", "required: 2", "required: 1")
        try w.replace(w.repo + "/sites/plant-b/site.yaml", "allowAuthor: false", "allowAuthor: true")
        try w.replace(w.repo + "/interlock.yaml", "sites: [plant-b]\n", "sites: [plant-a]\n")
        try w.replace(w.repo + "/interlock.yaml", "sites: [plant-a]\n      bake: 24h", "sites: [plant-b]")
        try w.replace(w.repo + "/sites/plant-b/site.yaml", "10.40.7.21", "10.40.7.22")
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "10.20.1.15", "10.20.1.16")
        try w.commit("Plant B becomes the pilot and needs one approval")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows).status == 0)
        let queue = try w.run(["queue", "--site", "plant-b", "--repo", w.repo], environment: Self.outsideWindows)
        #expect(queue.stdout.contains("approval: 0 of 2"), "the trusted two approvals: \(queue.stdout)")
        #expect(queue.stdout.contains("approval.required: 2 → 1"))
        #expect(queue.stdout.contains("approval.allowAuthor: false → true"))
        #expect(queue.stdout.contains("rollout wave: fleet"), "\(queue.stdout)")
        #expect(queue.stdout.contains("wave: plant-a (wave pilot) has not applied"), "the trusted waves still hold: \(queue.stdout)")
    }

    @Test func aSiteCannotBeAimedOutsideTheAllowedRootsAndARetargetIsShownAndSigned() throws {
        let w = try deployedPlantA()
        // Into the state directory: refused, nothing observed or written.
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "root: plant-a", "root: ../state")
        try w.commit("Aim Plant A at the state directory")
        let dotDot = try w.run("plan", "--site", "plant-a", "--repo", w.repo)
        #expect(dotDot.status == 1)
        #expect(dotDot.stdout.contains("contains '..'"), "\(dotDot.stdout)")
        #expect(dotDot.stdout.contains("sites/plant-a/site.yaml"))
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "root: ../state", "root: \(w.state)")
        try w.commit("Aim Plant A at the state directory by its absolute path")
        let intoState = try w.run("plan", "--site", "plant-a", "--repo", w.repo)
        #expect(intoState.status == 1)
        #expect(intoState.stdout.contains("overlaps Interlock's state directory"), "\(intoState.stdout)")
        // Elsewhere on the machine: refused.
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "root: \(w.state)", "root: /srv/elsewhere")
        try w.commit("Aim Plant A elsewhere")
        let elsewhere = try w.run("plan", "--site", "plant-a", "--repo", w.repo)
        #expect(elsewhere.stdout.contains("outside the directories this instance allows"), "\(elsewhere.stdout)")
        // Another allowed directory: planned, with the absolute target shown, and marked as a retarget.
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "root: /srv/elsewhere", "root: plant-a-moved")
        try w.commit("Move Plant A's files")
        let moved = try w.run("plan", "--site", "plant-a", "--repo", w.repo)
        #expect(moved.stdout.contains("target: files \(w.targets)/plant-a-moved"), "\(moved.stdout)")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows).status == 0)
        let change = try #require(try queueJSON(w).first { $0["site"] as? String == "plant-a" })
        let rules = change["ruleChanges"] as? [[String: Any]] ?? []
        #expect(rules.contains { $0["field"] as? String == "target" && $0["old"] as? String == "files plant-a" && $0["new"] as? String == "files plant-a-moved" })
        #expect((change["gate"] as? String).map { $0.hasPrefix("approval") } == true)
        #expect(!FileManager.default.fileExists(atPath: w.targets + "/plant-a-moved"))
    }

    @Test func aRenamedSiteIsNoFirstDeploymentOfTheTargetItTakesOver() throws {
        let w = try deployedPlantA()
        let before = try brokerFile(w)
        // plant-a becomes plant-x with the same root and no gates: its target holds what plant-a's apply wrote.
        try FileManager.default.moveItem(atPath: w.repo + "/sites/plant-a", toPath: w.repo + "/sites/plant-x")
        try w.replace(w.repo + "/sites/plant-x/site.yaml", "name: plant-a", "name: plant-x")
        try w.replace(w.repo + "/sites/plant-x/site.yaml", "root: plant-a", "root: plant-a  # the old site's files")
        try w.replace(w.repo + "/sites/plant-x/site.yaml", "    gate: approval+window", "    gate: auto")
        try w.replace(w.repo + "/sites/plant-x/site.yaml", "    gate: window", "    gate: auto")
        try w.replace(w.repo + "/interlock.yaml", "sites: [plant-a]", "sites: [plant-x]")
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        try w.commit("Rename plant-a")
        let ungated = try w.deployDirectly("plant-x")
        #expect(ungated.status == 1)
        #expect(ungated.stderr.contains("already holds resources Interlock applied"), "\(ungated.stderr)")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows).status == 0)
        let change = try #require(try queueJSON(w).first { $0["site"] as? String == "plant-x" })
        #expect(change["gate"] as? String == "approval+window", "not a first deployment: the strictest gate")
        #expect(try brokerFile(w) == before)
    }

    @Test func aNewSiteCannotReachIntoAnotherSitesDirectory() throws {
        let w = try deployedPlantA()
        try FileManager.default.copyItem(atPath: w.repo + "/sites/plant-b", toPath: w.repo + "/sites/plant-x")
        try w.replace(w.repo + "/sites/plant-x/site.yaml", "name: plant-b", "name: plant-x")
        try w.replace(w.repo + "/interlock.yaml", "sites: [plant-b]", "sites: [plant-b, plant-x]")
        for root in [".", "plant-a/mosquitto", w.targets] {
            let text = try String(contentsOfFile: w.repo + "/sites/plant-x/site.yaml", encoding: .utf8)
            let current = try #require(text.components(separatedBy: "\n").first { $0.hasPrefix("  root: ") })
            try w.replace(w.repo + "/sites/plant-x/site.yaml", current, "  root: \(root)")
            try w.commit("A new site at \(root)")
            let plan = try w.run("plan", "--site", "plant-x", "--repo", w.repo)
            #expect(plan.status == 1, "root \(root)")
            #expect(plan.stdout.contains("target-overlaps") || plan.stdout.contains("overlaps plant-a's root"), "\(plan.stdout)")
        }
    }

    @Test func aBakingChangeRunsTheHealthCommandsItWasAppliedWithNotANewCommits() throws {
        let w = try deployedPlantA()  // plant-a-1 bakes for 24 h
        let marker = w.root + "/new-commit-ran"
        try w.replace(w.repo + "/components/mqtt-broker.yaml",
                      "  command:\n    - mosquitto_sub\n    - -L\n    - \"mqtt://localhost:${config.port}/$SYS/broker/uptime\"\n    - -C\n    - \"1\"\n    - -W\n    - \"5\"\n",
                      "  command: [sh, -c, \"touch \(marker)\"]\n")
        try w.commit("A health command that must not run before it is approved")
        _ = try w.run(["reconcile", "--repo", w.repo], environment: Self.outsideWindows)
        #expect(!FileManager.default.fileExists(atPath: marker), "the new commit's health command ran before any approval")
    }

    @Test func aConfigurationThatIsAPipeIsRefusedNotWaitedFor() throws {
        let w = try Workspace()
        let fifo = w.root + "/config.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Date()
        let result = try w.run(["init", "--config", fifo], environment: [:])
        #expect(result.status == 2)
        #expect(result.stderr.contains("not a regular file"))
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func deletingThePilotPlantDoesNotLetAChangePastItsWave() throws {
        let w = try deployedPlantA()
        #expect(try w.deployDirectly("plant-b").status == 0)
        try FileManager.default.removeItem(atPath: w.repo + "/sites/plant-a")
        try w.replace(w.repo + "/interlock.yaml", "    - name: pilot\n      sites: [plant-a]\n      bake: 24h\n      description: Plant A is the pilot plant; changes bake there for 24 hours.\n", "")
        try w.replace(w.repo + "/sites/plant-b/site.yaml", "10.40.7.21", "10.40.7.22")
        try w.commit("Decommission Plant A and move Plant B's OPC UA server")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows).status == 0)
        let queue = try w.run(["queue", "--site", "plant-b", "--repo", w.repo], environment: Self.outsideWindows)
        #expect(queue.stdout.contains("plant-a (wave pilot as last applied) is no longer in the desired state"), "\(queue.stdout)")
    }

    @Test func theQueueTakesCommitsNotWorkingTrees() throws {
        let w = try deployedPlantA()
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        for command in [["reconcile"], ["run", "--passes", "1"], ["queue"]] {
            let result = try w.run(command + ["--worktree", "--repo", w.repo], environment: [:])
            #expect(result.status == 64, "\(command)")
            #expect(result.stderr.contains("the queue takes commits only"))
        }
        #expect(try w.run("plan", "--site", "plant-a", "--worktree", "--repo", w.repo).status == 2, "plan still reads a working tree")
    }

    @Test func aCLISignatureNeedsTheSignersPasswordFromTheTrustedConfiguration() throws {
        let w = try deployedPlantA()
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        try w.commit("Raise the broker limit")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows).status == 0)

        let wrong = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "ok", "--repo", w.repo], password: "guess")
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("the password does not match"))
        let noTerminal = try w.run("approve", "plant-a-2", "--as", "mgr-plant-a", "--reason", "ok", "--repo", w.repo)
        #expect(noTerminal.status == 1)
        #expect(noTerminal.stderr.contains("--password-stdin"))

        // A configuration of one's own, with an invented signer whose password one knows, creates no signer.
        let invented = w.root + "/mine.yaml"
        try CommandLineTests.Workspace.configuration.replacingOccurrences(of: "id: mgr-plant-a, name: Anna Berger", with: "id: mgr-plant-a, name: Anna B")
            .write(toFile: invented, atomically: true, encoding: .utf8)
        let elsewhere = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "ok", "--repo", w.repo, "--config", invented])
        #expect(elsewhere.status == 1)
        #expect(elsewhere.stderr.contains("users come only from"), "\(elsewhere.stderr)")

        let signed = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "broker limit agreed", "--repo", w.repo])
        #expect(signed.status == 0, "\(signed.stdout)\(signed.stderr)")
        let records = try auditRecords(w)
        let approved = try #require(records.first { $0["action"] as? String == "change.approved" })
        #expect(((approved["actor"] as? [String: Any])?["authentication"] as? String)?.hasPrefix("password (cli, os-user:") == true, "\(approved)")
        let refusals = records.filter { $0["action"] as? String == "approve.refused" }
        #expect(refusals.count == 2, "the wrong password and the foreign configuration (a missing terminal is a usage error): \(refusals.count)")
    }

    @Test func repeatedWrongPasswordsLockCommandLineSigning() throws {
        let w = try deployedPlantA()
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        try w.commit("Raise the broker limit")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows).status == 0)
        for _ in 0..<5 {
            #expect(try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "ok", "--repo", w.repo], password: "guess").status == 1)
        }
        let locked = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "ok", "--repo", w.repo])
        #expect(locked.status == 1)
        #expect(locked.stderr.contains("too many wrong passwords"), "\(locked.stderr)")
    }

    @Test func whoeverWroteOrCommittedAnyCommitOfAChangeMayNotApproveIt() throws {
        let w = try deployedPlantA()
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        try w.git("add", "-A")
        // Anna writes the change (a +tag address in other case), then someone else puts an empty commit on top.
        try w.git("-c", "user.name=Anna", "-c", "user.email=Anna.Berger+hotfix@Example.com", "commit", "-q", "-m", "Raise the broker limit")
        try w.git("commit", "-q", "--allow-empty", "-m", "Empty commit by the flow manager")
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: Self.outsideWindows).status == 0)
        let queue = try w.run(["queue", "--site", "plant-a", "--repo", w.repo], environment: Self.outsideWindows)
        #expect(queue.stdout.contains("commits (2)"), "\(queue.stdout)")
        let own = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "mine", "--repo", w.repo])
        #expect(own.status == 1)
        #expect(own.stderr.contains("wrote commit"), "\(own.stderr)")
        let deputy = try w.runAs("deputy-plant-a", ["approve", "plant-a-2", "--reason", "four eyes", "--repo", w.repo])
        #expect(deputy.status == 0, "\(deputy.stderr)")
    }

    @Test func ungatedOnlyDeploysASiteOnceAndTheNextWaveWaitsForItsBake() throws {
        let w = try deployedPlantA()
        try w.replace(w.repo + "/components/mqtt-broker.yaml", "max_connections: 1000", "max_connections: 5000")
        try w.commit("Raise the broker limit")
        let again = try w.deployDirectly("plant-a")
        #expect(again.status == 1)
        #expect(again.stderr.contains("only for a site's first deployment"), "\(again.stderr)")
        #expect(try w.auditActions().contains("apply.refused"))
        // No operator, no override: --ungated without --as is a usage error.
        let anonymous = try w.run("apply", "--site", "plant-a", "--plan", "0123456789ab", "--ungated", "--repo", w.repo)
        #expect(anonymous.status == 64)

        // Plant A's first deployment of this commit counts for the rollout: plant B's change waits for its bake.
        let w2 = try Workspace()
        #expect(try w2.run("init").status == 0)
        #expect(try w2.deployDirectly("plant-a").status == 0)
        #expect(try w2.run(["reconcile", "--hooks", "skip", "--repo", w2.repo], environment: Self.outsideWindows).status == 0)
        let queue = try w2.run(["queue", "--site", "plant-b", "--repo", w2.repo], environment: Self.outsideWindows)
        #expect(queue.stdout.contains("bakes until"), "\(queue.stdout)")
    }

    @Test func aSimulatedClockIsARecordedRehearsalOrRefused() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        let count = try w.auditActions().count
        let refused = try w.run(["queue", "--repo", w.repo], environment: ["INTERLOCK_NOW": "2026-11-28T23:00:00+01:00"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("INTERLOCK_REHEARSAL=1"))
        #expect(try w.auditActions().count == count, "nothing was recorded")

        let rehearsal = try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: CommandLineTests.insideWindow)
        #expect(rehearsal.status == 0)
        let records = try auditRecords(w)
        let queued = records.filter { $0["action"] as? String == "change.queued" }
        #expect(!queued.isEmpty)
        #expect(queued.allSatisfy { (($0["details"] as? [String: Any])?["rehearsal"] as? String)?.contains("2026-11-28T23:00:00+01:00") == true })
        let initialized = try #require(records.first { $0["action"] as? String == "audit.initialized" })
        #expect((initialized["details"] as? [String: Any])?["rehearsal"] == nil, "records of real operation carry no rehearsal")
    }

    @Test func aSignatureOrApplyMustNameAWholePlanId() throws {
        let w = try deployedPlantA()
        for plan in ["", "sha256:", "abc"] {
            let approve = try w.runAs("mgr-plant-a", ["approve", "plant-a-1", "--plan", plan, "--reason", "ok", "--repo", w.repo])
            #expect(approve.status == 64, "approve --plan '\(plan)'")
            #expect(approve.stderr.contains("12 hex digits"))
            let apply = try w.runAs("ops", ["apply", "--site", "plant-a", "--plan", plan, "--ungated", "--repo", w.repo])
            #expect(apply.status == 64, "apply --plan '\(plan)'")
        }
    }
}
