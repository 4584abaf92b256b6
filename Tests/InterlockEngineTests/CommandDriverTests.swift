import Foundation
import InterlockModel
import Testing
@testable import InterlockEngine

/// The command driver against tiny scripts (error paths, an echo driver) and against the example
/// mqtt-retained driver with a real Mosquitto broker.
@Suite struct CommandDriverTests {
    typealias F = DriverFixtures

    static let someHash = "sha256:" + String(repeating: "ab", count: 32)

    // MARK: Failures of the program

    @Test func nonZeroExitIsFailedAndCarriesStderr() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("fails.sh", "#!/bin/sh\ncat >/dev/null\necho 'connecting to gateway' >&2\necho 'gateway said: 401 unauthorized' >&2\nexit 3\n")
        let error = F.driverError { _ = try F.driver([script]).observe(desired: []) }
        #expect(error?.code == .failed)
        #expect(error?.site == "plant-a")
        #expect(error?.message.contains("exited with status 3 during observe") == true, "\(String(describing: error))")
        #expect(error?.detail?.contains("gateway said: 401 unauthorized") == true)
        #expect(error?.description.contains("    | gateway said: 401 unauthorized") == true)
    }

    @Test func errorObjectOnStdoutSetsCodeMessageAndHint() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("down.sh", """
            #!/bin/sh
            echo 'retrying…' >&2
            echo '{"error":{"code":"unreachable","message":"gateway 10.0.0.5 did not answer","hint":"check the VPN"}}'
            exit 1

            """)
        let error = F.driverError { _ = try F.driver([script]).observe(desired: []) }
        #expect(error?.code == .unreachable)
        #expect(error?.message.contains("gateway 10.0.0.5 did not answer") == true)
        #expect(error?.hint == "check the VPN")
        #expect(error?.detail?.contains("retrying") == true)
    }

    @Test func killedBySignalIsFailed() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("crash.sh", "#!/bin/sh\necho 'about to crash' >&2\nkill -9 $$\n")
        let error = F.driverError { _ = try F.driver([script]).observe(desired: []) }
        #expect(error?.code == .failed)
        #expect(error?.message.contains("killed by signal 9") == true, "\(String(describing: error))")
        #expect(error?.detail?.contains("about to crash") == true)
    }

    @Test func garbageOutputIsBadResponse() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("garbage.sh", "#!/bin/sh\necho 'Connected to gateway.'\necho '{\"resources\": []}'\necho 'note on stderr' >&2\n")
        let error = F.driverError { _ = try F.driver([script]).observe(desired: []) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains("not valid JSON") == true, "\(String(describing: error))")
        #expect(error?.detail?.contains("Connected to gateway.") == true)
        #expect(error?.detail?.contains("note on stderr") == true)
    }

    @Test func emptyOutputIsBadResponse() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("silent.sh", "#!/bin/sh\nexit 0\n")
        let error = F.driverError { _ = try F.driver([script]).observe(desired: []) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains("printed nothing on stdout") == true)
    }

    @Test(arguments: [
        (#"[1, 2]"#, "with a JSON list, expected an object"),
        (#"{}"#, "resources: required field is missing"),
        (#"{"resources": [{"hash": "\#(someHash)"}]}"#, "resources[0].path: required field is missing"),
        (#"{"resources": [{"path": "files/a"}]}"#, #"resources[0]: resource "files/a" has neither "hash" nor "content""#),
        (#"{"resources": [{"path": "files/a", "hash": "md5:0"}]}"#, "resources[0].hash: expected \"sha256:<64 lowercase hex digits>\""),
        (#"{"resources": [{"path": "files/a", "content": "x", "hash": "\#(someHash)"}]}"#, "resources[0].hash: \(someHash) is not the hash of the content given"),
        (#"{"resources": [{"path": "files/a", "contentBase64": "***"}]}"#, "resources[0].contentBase64: not valid base64"),
        (#"{"resources": [{"path": "files/a", "content": "x", "mode": "rw-r--r--"}]}"#, "resources[0].mode: expected octal permission bits"),
        (#"{"resources": [{"path": "files/a", "content": "x", "managed": "yes"}]}"#, "resources[0].managed: expected true or false, found string"),
        (#"{"resources": [], "drift": [{"path": "files/a", "kind": "edited", "expected": "\#(someHash)"}]}"#, "drift[0].kind: expected modified, vanished or mode-changed"),
        (#"{"resources": [], "drift": [{"path": "files/a", "kind": "vanished"}]}"#, "drift[0].expected: required field is missing"),
        (#"{"resources": [{"path": "../../etc/passwd", "content": "x"}]}"#, #"resources[0].path: the path "../../etc/passwd" contains '..'"#),
        (#"{"resources": [{"path": "/etc/passwd", "content": "x"}]}"#, "resources[0].path: the path \"/etc/passwd\" is an absolute path"),
        (#"{"resources": [{"path": ".interlock/manifest.json", "content": "x"}]}"#, "is inside .interlock/"),
        (#"{"resources": [], "drift": [{"path": "files/../../x", "kind": "vanished", "expected": "\#(someHash)"}]}"#, "drift[0].path: the path \"files/../../x\" contains '..'"),
    ])
    func malformedObserveResponseIsBadResponseNamingTheField(response: String, expected: String) throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("bad.sh", "#!/bin/sh\ncat <<'JSON'\n\(response)\nJSON\n")
        let error = F.driverError { _ = try F.driver([script]).observe(desired: []) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
    }

    @Test func applyResponseWithoutAppliedIsBadResponse() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("apply.sh", "#!/bin/sh\ncat >/dev/null\necho '{\"rollback\": 1}'\n")
        let plan = F.plan([F.create(F.file("a.conf", "x\n"))])
        let error = F.driverError { _ = try F.driver([script]).apply(plan) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains("applied: required field is missing") == true, "\(String(describing: error))")
    }

    @Test func applyResponseNamingAPathOutsideThePlanIsBadResponse() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("apply.sh", "#!/bin/sh\ncat >/dev/null\necho '{\"applied\": [\"files/a.conf\", \"files/other\"]}'\n")
        let plan = F.plan([F.create(F.file("a.conf", "x\n"))])
        let error = F.driverError { _ = try F.driver([script]).apply(plan) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains(#"applied[1]: "files/other" is not a path in the plan"#) == true, "\(String(describing: error))")
    }

    // MARK: Timeouts

    /// A shell script whose `sleep` child holds the pipes, and a Python script (Python keeps the signal mask
    /// it was started with, so this also pins that SIGTERM is not blocked in the driver).
    @Test(arguments: [
        ("hang.sh", "#!/bin/sh\necho 'waiting for the gateway' >&2\nsleep 30\n"),
        ("hang.py", "#!/usr/bin/env python3\nimport sys, time\nprint('waiting for the gateway', file=sys.stderr, flush=True)\ntime.sleep(30)\n"),
    ])
    func driverThatHangsTimesOutAfterItsTimeout(name: String, body: String) throws {
        let dir = try ScratchDirectory()
        let script = try dir.script(name, body)
        let clock = ContinuousClock()
        let start = clock.now
        // 3 s leaves the interpreter time to start and write its stderr line even on a loaded machine.
        let error = F.driverError { _ = try F.driver([script], timeout: 3).observe(desired: []) }
        let elapsed = clock.now - start
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("did not answer observe within 3s; stopped it with SIGTERM") == true, "\(String(describing: error))")
        #expect(error?.detail?.contains("waiting for the gateway") == true)
        // The `sleep 30` child went down with the script (same process group), so nothing held the pipes open:
        // the call returns after the timeout, long before the child would have ended.
        #expect(elapsed >= .milliseconds(2_900) && elapsed < .seconds(20), "took \(elapsed)")
    }

    /// A driver that answers and exits, leaving a child that left its process group (setsid) with the stdout pipe:
    /// its answer is used at once, not reported as a timeout, and Interlock does not wait for the child.
    @Test(arguments: ["sleep 60 &", "setsid sleep 60 &"])
    func aChildLeftHoldingStdoutDoesNotHoldUpTheAnswer(child: String) throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("detach.sh", "#!/bin/sh\ncat >/dev/null\necho '{\"resources\": []}'\n\(child)\nexit 0\n")
        let clock = ContinuousClock()
        let start = clock.now
        let live = try F.driver([script], timeout: 30).observe(desired: [])
        #expect(live.resources.isEmpty)
        #expect(clock.now - start < .seconds(10), "took \(clock.now - start)")
    }

    @Test func driverIgnoringSIGTERMIsKilledAfterTheGracePeriod() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("stubborn.sh", "#!/bin/sh\ntrap '' TERM\nsleep 30\n")
        var driver = F.driver([script], timeout: 1)
        driver.killGrace = 0.5
        let clock = ContinuousClock()
        let start = clock.now
        let error = F.driverError { _ = try driver.observe(desired: []) }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("killed it after it ignored SIGTERM for 0.5s") == true, "\(String(describing: error))")
        #expect(clock.now - start < .seconds(20), "killed long before the script's own 30 s")
    }

    // MARK: Finding the program

    @Test func missingProgramInPATHIsUnreachable() {
        let error = F.driverError { _ = try F.driver(["interlock-no-such-driver"]).observe(desired: []) }
        #expect(error?.code == .unreachable)
        #expect(error?.message == "driver program interlock-no-such-driver was not found in PATH")
        #expect(error?.hint?.contains("install interlock-no-such-driver") == true)
    }

    @Test func missingRelativeProgramIsUnreachableAndNamesTheResolvedPath() throws {
        let dir = try ScratchDirectory()
        let error = F.driverError { _ = try F.driver(["drivers/nope.sh"], in: dir.path).observe(desired: []) }
        #expect(error?.code == .unreachable)
        #expect(error?.message == "driver program \(dir.path)/drivers/nope.sh does not exist")
        #expect(error?.hint?.contains("relative paths resolve against \(dir.path)") == true)
    }

    @Test func programThatIsNotExecutableIsUnreachableWithAHint() throws {
        let dir = try ScratchDirectory()
        try Data("print('hi')\n".utf8).write(to: dir.url.appendingPathComponent("driver.py"))
        let error = F.driverError { _ = try F.driver(["./driver.py"], in: dir.path).observe(desired: []) }
        #expect(error?.code == .unreachable)
        #expect(error?.message.contains("is not executable") == true)
        #expect(error?.hint?.contains("command: [python3, ./driver.py]") == true)
    }

    @Test func emptyCommandIsRefused() {
        let error = F.driverError { _ = try F.driver([]).observe(desired: []) }
        #expect(error?.code == .refused)
    }

    // MARK: Big outputs and inputs

    @Test func bigStdoutAndStderrDoNotDeadlockAndStderrIsBounded() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("chatty.py", """
            #!/usr/bin/env python3
            import json, sys
            request = json.load(sys.stdin)
            for i in range(20000):
                print(f"debug line {i:05d} " + "x" * 40, file=sys.stderr)
            if request["action"] == "observe":
                json.dump({"resources": [{"path": "files/big", "content": "y" * 3_000_000}]}, sys.stdout)
            else:
                print("final words", file=sys.stderr)
                sys.exit(1)

            """)
        let state = try F.driver([script]).observe(desired: [])
        #expect(state.resources["files/big"]?.content?.count == 3_000_000)

        let huge = F.file("huge.bin", String(repeating: "z", count: 2_000_000))
        let error = F.driverError { _ = try F.driver([script]).apply(F.plan([F.create(huge)])) }
        #expect(error?.code == .failed)
        let detail = error?.detail ?? ""
        #expect(detail.utf8.count <= 64 << 10)
        #expect(detail.hasSuffix("final words\n"))
        #expect(!detail.contains("debug line 00000"))
    }

    @Test func driverThatNeverReadsItsRequestStillAnswers() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("deaf.sh", "#!/bin/sh\necho '{\"applied\": [], \"rollback\": null}'\n")
        let big = F.file("big.txt", String(repeating: "line\n", count: 400_000))
        let receipt = try F.driver([script]).apply(F.plan([F.create(big)]))
        #expect(receipt.applied.isEmpty)
    }

    // MARK: Happy path

    /// Records each request (and its environment and working directory) and answers from it.
    static let echoDriver = """
        #!/usr/bin/env python3
        import json, os, sys
        request = json.load(sys.stdin)
        log = os.environ["ECHO_LOG"]
        with open(os.path.join(log, request["action"] + ".json"), "w") as f:
            json.dump({"request": request, "cwd": os.getcwd(),
                       "env": {k: os.environ.get(k) for k in ["INTERLOCK_SITE", "INTERLOCK_ACTION", "INTERLOCK_PROTOCOL", "GATEWAY_URL", "HOME"]}}, f)
        print("echo driver: " + request["action"], file=sys.stderr)
        if request["action"] == "observe":
            resources = [{"path": r["path"], "hash": r["hash"]} for r in request["resources"]]
            resources.append({"path": "files/legacy.conf", "content": "old\\n", "mode": "0600", "managed": False})
            drift = [{"path": "files/a.conf", "kind": "modified", "expected": request["resources"][0]["hash"],
                      "actual": "sha256:" + "0" * 64, "plan": "sha256:" + "1" * 64, "commit": "abc123"}]
            json.dump({"resources": resources, "drift": drift}, sys.stdout)
        elif request["action"] == "apply":
            paths = [op["path"] for op in request["operations"]]
            json.dump({"applied": paths, "rollback": {"backup": "/var/backups/7", "count": len(paths), "ok": True}}, sys.stdout)
        else:
            json.dump({"rolledBack": request["applied"]}, sys.stdout)

        """

    @Test func observeApplyRollbackRoundTripWithAnEchoDriver() throws {
        let dir = try ScratchDirectory()
        try dir.script("drivers/echo.py", Self.echoDriver)
        let log = dir.url.appendingPathComponent("log")
        try FileManager.default.createDirectory(at: log, withIntermediateDirectories: true)
        let driver = F.driver(["python3", "drivers/echo.py"], timeout: 20,
                              environment: ["ECHO_LOG": log.path, "GATEWAY_URL": "https://gw.plant-a.local"], in: dir.path)
        func recorded(_ action: String) throws -> Value {
            try Value.parseJSON(Data(contentsOf: log.appendingPathComponent("\(action).json")))
        }

        // observe: desired resources go out without content; live resources and drift come back.
        let a = F.file("a.conf", "a = 1\n", mode: 0o640)
        let flow = F.flow("energy", #"{"bricks":[]}"#)
        let state = try driver.observe(desired: [a, flow])
        #expect(state.resources.count == 3)
        #expect(state.resources["files/a.conf"]?.contentHash == a.contentHash)
        #expect(state.resources["files/a.conf"]?.content == nil)
        #expect(state.resources["files/a.conf"]?.managed == true)
        let legacy = try #require(state.resources["files/legacy.conf"])
        #expect(legacy.content == Data("old\n".utf8))
        #expect(legacy.contentHash == Resource.hash(Data("old\n".utf8)))
        #expect(legacy.mode == 0o600)
        #expect(legacy.managed == false)
        #expect(state.drift == [Drift(path: "files/a.conf", kind: .modified, expectedHash: a.contentHash, actualHash: "sha256:" + String(repeating: "0", count: 64),
                                      appliedByPlan: "sha256:" + String(repeating: "1", count: 64), appliedCommit: "abc123")])

        let observed = try recorded("observe")
        #expect(observed.lookup(["request"]) == (try F.json("""
            {"protocol": "interlock-driver/v1", "action": "observe", "site": "plant-a", "resources": [
              {"path": "files/a.conf", "kind": "file", "name": "a.conf", "hash": "\(a.contentHash)", "mode": "0640"},
              {"path": "flows/energy", "kind": "flow", "name": "energy", "hash": "\(flow.contentHash)"}]}
            """)))
        #expect(observed.lookup(["cwd"])?.stringValue.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == dir.url.resolvingSymlinksInPath().path)
        #expect(observed.lookup(["env", "INTERLOCK_SITE"]) == .string("plant-a"))
        #expect(observed.lookup(["env", "INTERLOCK_ACTION"]) == .string("observe"))
        #expect(observed.lookup(["env", "INTERLOCK_PROTOCOL"]) == .string("interlock-driver/v1"))
        #expect(observed.lookup(["env", "GATEWAY_URL"]) == .string("https://gw.plant-a.local"))
        #expect(observed.lookup(["env", "HOME"])?.stringValue == ProcessInfo.processInfo.environment["HOME"])

        // apply: operations with content (text as is, binary as base64); the token is kept as canonical JSON.
        let binary = Resource(kind: .file, name: "logo.bin", content: Data([0xff, 0x00, 0xfe]), sources: [])
        let a2 = F.file("a.conf", "a = 2\n", mode: 0o640)
        let plan = F.plan([F.update(a2, from: a), F.create(binary), F.delete(flow)])
        let receipt = try driver.apply(plan)
        #expect(receipt.site == "plant-a")
        #expect(receipt.planID == plan.id)
        #expect(receipt.applied == ["files/a.conf", "files/logo.bin", "flows/energy"])
        #expect(receipt.undo["token"] == #"{"backup":"/var/backups/7","count":3,"ok":true}"#)
        #expect(receipt.undo["protocol"] == "interlock-driver/v1")

        let applied = try recorded("apply")
        #expect(applied.lookup(["request", "plan"]) == (try F.json(#"{"id": "\#(plan.id)", "commit": "c0ffee"}"#)))
        #expect(applied.lookup(["request", "operations"]) == (try F.json("""
            [{"action": "update", "path": "files/a.conf", "kind": "file", "before": "\(a.contentHash)", "after": "\(a2.contentHash)",
              "mode": "0640", "content": "a = 2\\n"},
             {"action": "create", "path": "files/logo.bin", "kind": "file", "before": null, "after": "\(binary.contentHash)",
              "mode": null, "contentBase64": "/wD+"},
             {"action": "delete", "path": "flows/energy", "kind": "flow", "before": "\(flow.contentHash)", "after": null, "mode": null}]
            """)))

        // The receipt survives a round trip through JSON (it is stored), and rollback hands the token back.
        let stored = try JSONDecoder().decode(ApplyReceipt.self, from: JSONEncoder().encode(receipt))
        try driver.rollback(stored)
        let rolledBack = try recorded("rollback")
        #expect(rolledBack.lookup(["request", "token"]) == (try F.json(#"{"backup": "/var/backups/7", "count": 3, "ok": true}"#)))
        #expect(rolledBack.lookup(["request", "applied"]) == (try F.json(#"["files/a.conf", "files/logo.bin", "flows/energy"]"#)))
        #expect(rolledBack.lookup(["request", "plan"]) == .object(["id": .string(plan.id)]))
        #expect(rolledBack.lookup(["request", "operations"])?.arrayValue?.count == 3)
        #expect(rolledBack.lookup(["env", "INTERLOCK_ACTION"]) == .string("rollback"))
    }

    @Test func emptyPlanDoesNotRunTheDriver() throws {
        let driver = F.driver(["interlock-no-such-driver"])
        let receipt = try driver.apply(F.plan([]))
        #expect(receipt.applied.isEmpty)
        try driver.rollback(receipt)
    }

    @Test func rollbackThatLeavesPathsOutIsFailed() throws {
        let dir = try ScratchDirectory()
        let script = try dir.script("partial.sh", "#!/bin/sh\ncat >/dev/null\necho '{\"rolledBack\": [\"files/a.conf\"]}'\n")
        let receipt = ApplyReceipt(site: "plant-a", planID: "sha256:1", applied: ["files/a.conf", "files/b.conf"], undo: ["token": "null"])
        let error = F.driverError { try F.driver([script]).rollback(receipt) }
        #expect(error?.code == .failed)
        #expect(error?.message.contains("did not roll back files/b.conf") == true, "\(String(describing: error))")
    }
}
