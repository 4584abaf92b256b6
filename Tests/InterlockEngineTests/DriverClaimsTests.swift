import Foundation
import InterlockModel
import InterlockStore
import Testing
@testable import InterlockEngine

/// A driver's word about what it undid is checked by observing the site: a command driver that applies part of a plan
/// and exits with an error leaves a change recorded `failed` with the paths that changed, never "rolled back".
@Suite struct DriverClaimsTests {
    /// A command driver keeping its "live state" in a JSON file: it applies the first operation of a plan, then fails.
    static let partialDriver = """
        #!/usr/bin/env python3
        import json, os, sys
        store = os.environ["DRIVER_STATE"]
        state = json.load(open(store)) if os.path.exists(store) else {}
        request = json.load(sys.stdin)
        action = request["action"]
        if action == "observe":
            json.dump({"resources": [{"path": p, "hash": h} for p, h in state.items()]}, sys.stdout)
        elif action == "apply":
            first = request["operations"][0]
            state[first["path"]] = first["after"]
            json.dump(state, open(store, "w"))
            print("the gateway refused the second resource", file=sys.stderr)
            sys.exit(1)
        else:
            json.dump({"rolledBack": []}, sys.stdout)

        """

    @Test func aDriverThatAppliesPartAndFailsLeavesTheChangeFailedWithThePaths() throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow)
        let dir = try ScratchDirectory()
        let script = try dir.script("partial.py", Self.partialDriver)
        try f.engine.edit("sites/plant-a/site.yaml", replacing: "target:\n  driver: files\n  root: plant-a",
                          with: "target:\n  driver: command\n  command: [python3, \(script)]\n  env: { DRIVER_STATE: \(dir.path)/state.json }")
        try f.reconcile()
        var change = try #require(try f.active("plant-a"))
        change = try f.approve(change, as: "mgr-plant-a")
        let outcome = try f.executor.apply(change, site: f.engine.site("plant-a"), state: f.engine.state)
        guard case .rolledBack(let final, let reason) = outcome else {
            Issue.record("expected the apply to fail, got \(outcome)")
            return
        }
        #expect(final.status == .failed, "the site holds one new resource: not rolled back")
        #expect(reason.contains("ROLLBACK INCOMPLETE"), "\(reason)")
        let first = try #require(change.plan.operations.first?.path)
        #expect(reason.contains(first), "names the resource that changed: \(reason)")
        #expect(try f.actions().contains("rollback.failed"))
        #expect(!(try f.actions().contains("rollback.completed")))
    }
}

/// Whether the process that claimed a change is gone is decided by boot id and process start time, so a reused
/// process id (after a reboot or a power loss) or a renamed host does not keep a change `applying` for good.
@Suite struct ProcessIdentityTests {
    @Test func thisProcessIsAlive() {
        #expect(!ProcessIdentity.isDead(ProcessIdentity.current))
    }

    @Test func aReusedProcessIdIsRecognised() throws {
        let parts = ProcessIdentity.current.split(separator: ":").map(String.init)
        try #require(parts.count == 4 && parts[2] != "-", "boot id and start time are known on Linux")
        // Our own process id, but another start time: the process that claimed it is gone, the id reused.
        #expect(ProcessIdentity.isDead("\(parts[0]):\(parts[1]):\(parts[2]):1"))
        // Another boot: whatever ran then is gone, whatever the process id.
        #expect(ProcessIdentity.isDead("\(parts[0]):\(parts[1]):00000000-0000-0000-0000-000000000000:\(parts[3])"))
        // A renamed host with this boot and this process: alive.
        #expect(!ProcessIdentity.isDead("another-name:\(parts[1]):\(parts[2]):\(parts[3])"))
        // A process id nobody has.
        #expect(ProcessIdentity.isDead("\(parts[0]):2147483646:\(parts[2]):12345"))
    }
}
