import Foundation
import Testing

/// A command driver that keeps applying after Interlock is killed: the next start observes the target and records
/// what is really there (every resource new: applied), never "rolled back" on the driver's silence.
@Suite(.serialized) struct CommandDriverCrashTests {
    typealias Workspace = CommandLineTests.Workspace

    /// Keeps its live state next to itself; on apply it kills its parent (Interlock), then finishes the work.
    static let driver = """
        import json, os, sys, time
        store = os.path.join(os.path.dirname(os.path.abspath(__file__)), "state.json")
        state = json.load(open(store)) if os.path.exists(store) else {}
        request = json.load(sys.stdin)
        if request["action"] == "observe":
            json.dump({"resources": [{"path": p, "hash": h} for p, h in state.items()]}, sys.stdout)
        elif request["action"] == "apply":
            os.kill(os.getppid(), 9)
            time.sleep(0.3)
            for op in request["operations"]:
                if op["after"] is None:
                    state.pop(op["path"], None)
                else:
                    state[op["path"]] = op["after"]
            json.dump(state, open(store, "w"))
            json.dump({"applied": [op["path"] for op in request["operations"]]}, sys.stdout)
        else:
            json.dump({"rolledBack": request.get("applied", [])}, sys.stdout)

        """

    @Test func killedWhileTheDriverFinishesTheChangeIsRecordedAppliedNotRolledBack() throws {
        let w = try Workspace()
        let script = w.root + "/driver/state-driver.py"
        try FileManager.default.createDirectory(atPath: w.root + "/driver", withIntermediateDirectories: true)
        try Self.driver.write(toFile: script, atomically: true, encoding: .utf8)
        try (Workspace.configuration + "\ntargets:\n  commands: [\"/usr/bin/python3 \(script)\"]\n")
            .write(toFile: w.root + "/interlock.yaml", atomically: true, encoding: .utf8)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "target:\n  driver: files\n  root: plant-a",
                      "target:\n  driver: command\n  command: [/usr/bin/python3, \(script)]")
        try w.commit("Plant A through a command driver")
        #expect(try w.run("init").status == 0)
        #expect(try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: GateTrustTests.outsideWindows).status == 0)
        let approve = try w.runAs("mgr-plant-a", ["approve", "plant-a-1", "--reason", "first deployment", "--repo", w.repo])
        #expect(approve.status == 0, "\(approve.stderr)")

        let apply = try w.runAs("ops", ["apply", "--change", "plant-a-1", "--hooks", "skip", "--repo", w.repo], environment: CommandLineTests.insideWindow)
        #expect(apply.status == SIGKILL, "the driver killed Interlock mid-apply: \(apply.status) \(apply.stderr)")
        usleep(1_500_000)  // the driver finishes on its own
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: w.root + "/driver/state.json"))) as? [String: String]
        #expect((state?.count ?? 0) > 20, "the driver wrote every resource after Interlock died")

        let recover = try w.run(["reconcile", "--hooks", "skip", "--repo", w.repo], environment: CommandLineTests.insideWindow)
        #expect(recover.stdout.contains("recovered plant-a-1"), "\(recover.stdout)\(recover.stderr)")
        #expect(recover.stdout.contains("every resource holds the new content"))
        let queue = try w.run(["queue", "--all", "--repo", w.repo, "--json"], environment: [:])
        #expect(queue.stdout.contains("\"status\": \"applied\""), "\(queue.stdout)")
        #expect(!queue.stdout.contains("\"status\": \"rolled-back\""))
        #expect(try w.run("plan", "--site", "plant-a", "--repo", w.repo).status == 0, "the record and the target agree: in sync")
    }
}
