import Foundation
import Testing

/// The `interlock` binary end to end: a real git repository made from Examples/, a real state
/// directory (SQLite audit log, signing key) and real site roots in a temporary directory.
@Suite(.serialized) struct CommandLineTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    final class Workspace {
        let root: String
        var repo: String { root + "/desired-state" }
        var state: String { root + "/state" }
        var targets: String { root + "/targets" }
        /// Set for every command run (e.g. `INTERLOCK_DATABASE` to work on PostgreSQL).
        var baseEnvironment: [String: String] = [:]

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("interlock-cli-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: CommandLineTests.packageRoot + "/Examples", toPath: repo)
            try git("init", "-q")
            try commit("Initial desired state")
            try Self.configuration.write(toFile: root + "/interlock.yaml", atomically: true, encoding: .utf8)
        }

        /// The users of the tests; passwords: anna-pass-1, jonas-pass-1, maria-pass-1, ops-pass-1, mallory-pass-1.
        static let configuration = """
            users:
              - { id: mgr-plant-a, name: Anna Berger, email: anna.berger@example.com, title: plant manager, roles: [approver], sites: [plant-a], groups: [plant-a-managers],
                  passwordHash: "pbkdf2-sha256$100000$JC6SinME+ZKs7yaju8W7Lw==$dJwG3L4u3uwt3PhvU3w2fZkN7eurpzKJcAuJUvaOvp4=" }
              - { id: deputy-plant-a, name: Jonas Keller, title: deputy plant manager, roles: [approver], sites: [plant-a], groups: [plant-a-managers],
                  passwordHash: "pbkdf2-sha256$100000$3o8pXUQJp3uuIsapLNB/1A==$imVVe22vMU4+Z78Syqm8nz0ieMvdTHxbGB3Xw28d2zc=" }
              - { id: mgr-plant-b, name: Maria Lopez, title: plant manager, roles: [approver], sites: [plant-b],
                  passwordHash: "pbkdf2-sha256$100000$BTlKqDUsh0b9ar/l0K7y4Q==$4GWzHYkLo/9Y9KlrR92rE3IRUDfomW6BnBVVAq11M3M=" }
              - { id: ops, name: Olga Operator, title: operator, roles: [operator], sites: ["*"],
                  passwordHash: "pbkdf2-sha256$100000$ksS8/ir1Gvbw2e36wviuoA==$GOR4hAHmYKeFolhz1Em4IFTNjxfyDQ19pU8D5QnUp8o=" }
            """

        static let passwords = ["mgr-plant-a": "anna-pass-1", "deputy-plant-a": "jonas-pass-1", "mgr-plant-b": "maria-pass-1", "ops": "ops-pass-1"]

        /// Runs the binary as `user`, with their password on standard input (`--as USER --password-stdin` appended).
        func runAs(_ user: String, _ arguments: [String], password: String? = nil, environment: [String: String] = [:]) throws -> Result {
            try run(arguments + ["--as", user, "--password-stdin"], environment: environment, stdin: (password ?? Self.passwords[user] ?? "") + "\n")
        }

        /// The first deployment of a site, by the operator, without reload and health commands (no vendor software here).
        func deployDirectly(_ site: String) throws -> Result {
            let plan = try run("plan", "--site", site, "--repo", repo, "--json")
            guard let id = plan.stdout.components(separatedBy: "\"id\": \"sha256:").dropFirst().first?.prefix(12) else {
                throw Failure(message: "no plan for \(site): \(plan.stdout)\(plan.stderr)")
            }
            return try runAs("ops", ["apply", "--site", site, "--plan", String(id), "--ungated", "--hooks", "skip", "--repo", repo])
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        struct Result {
            var status: Int32
            var stdout: String
            var stderr: String
        }

        static func binary() throws -> String {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            var candidates: [String] = []
            for _ in 0..<4 {
                candidates.append(directory.appendingPathComponent("interlock").path)
                directory = directory.deletingLastPathComponent()
            }
            candidates += ["debug", "release"].map { CommandLineTests.packageRoot + "/.build/\($0)/interlock" }
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) && !$0.hasSuffix(".xctest") }) else {
                throw Failure(message: "the interlock binary was not built (looked in \(candidates)); run 'swift build' first")
            }
            return found
        }

        func run(_ arguments: String...) throws -> Result {
            try run(arguments, environment: [:])
        }

        /// Starts the binary without waiting; returns the process and the paths of its stdout and stderr.
        func start(_ arguments: [String], environment extra: [String: String] = [:], stdin: String? = nil) throws -> (Process, String, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try Workspace.binary())
            process.arguments = arguments
            process.environment = environment(extra)
            process.currentDirectoryURL = URL(fileURLWithPath: root)
            let out = root + "/.stdout-\(UUID().uuidString)", err = root + "/.stderr-\(UUID().uuidString)"
            FileManager.default.createFile(atPath: out, contents: nil)
            FileManager.default.createFile(atPath: err, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
            if let stdin {
                let input = root + "/.stdin-\(UUID().uuidString)"
                FileManager.default.createFile(atPath: input, contents: Data(stdin.utf8))
                process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
            } else {
                process.standardInput = FileHandle.nullDevice
            }
            try process.run()
            return (process, out, err)
        }

        func environment(_ extra: [String: String]) -> [String: String] {
            var environment = ProcessInfo.processInfo.environment
            environment["INTERLOCK_STATE_DIR"] = state
            environment["INTERLOCK_TARGET_BASE"] = targets
            environment["INTERLOCK_CONFIG"] = root + "/interlock.yaml"
            environment["NO_COLOR"] = "1"
            return environment.merging(baseEnvironment) { $1 }.merging(extra) { $1 }
        }

        func run(_ arguments: [String], environment extra: [String: String], stdin: String? = nil) throws -> Result {
            let (process, out, err) = try start(arguments, environment: extra, stdin: stdin)
            process.waitUntilExit()
            return Result(
                status: process.terminationStatus,
                stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        }

        func git(_ arguments: String...) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["git", "-c", "user.name=Flow Manager", "-c", "user.email=flows@example.com",
                                 "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: repo)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw Failure(message: "git \(arguments) failed") }
        }

        func commit(_ message: String) throws {
            try git("add", "-A")
            try git("commit", "-q", "-m", message)
        }

        func replace(_ file: String, _ old: String, _ new: String) throws {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            guard text.contains(old) else { throw Failure(message: "\(file) does not contain \(old)") }
            try text.replacingOccurrences(of: old, with: new).write(toFile: file, atomically: true, encoding: .utf8)
        }

        /// The audit log's actions, oldest first.
        func auditActions() throws -> [String] {
            let log = try run("audit", "log", "--json", "--limit", "0")
            return log.stdout.components(separatedBy: "\n").compactMap { line in
                guard let range = line.range(of: "\"action\": \"") else { return nil }
                return String(line[range.upperBound...].prefix { $0 != "\"" })
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    @Test func validateShowAndSitesOnTheExamples() throws {
        let w = try Workspace()
        let validate = try w.run("validate", "--repo", w.repo)
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
        #expect(validate.stdout.contains("valid: "))
        let show = try w.run("show", "plant-b", "--repo", w.repo)
        #expect(show.status == 0)
        #expect(show.stdout.contains("opc.tcp://10.40.7.21"))
        let sites = try w.run("sites", "--repo", w.repo, "--json")
        #expect(sites.stdout.contains("\"timezone\": \"America/New_York\""))
        let missing = try w.run("validate", "--repo", w.repo, "--rev", "no-such-branch")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no-such-branch"))
    }

    @Test func brokenCommitIsListedWithFileAndLineAndAudited() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "timezone: Europe/Berlin", "timezon: Europe/Berlin")
        try w.commit("Typo")
        let result = try w.run("validate", "--repo", w.repo)
        #expect(result.status == 1)
        #expect(result.stdout.contains("sites/plant-a/site.yaml:"))
        #expect(result.stdout.contains("did you mean 'timezone'"))
        #expect(try w.auditActions().contains("validate.failed"))
    }

    @Test func aProblemInOneSitesFilesLeavesTheOtherSitesPlanned() throws {
        let w = try Workspace()
        // Plant B's override of the broker becomes a list: only plant B compiles from it.
        try "- max_connections: 10\n".write(toFile: w.repo + "/sites/plant-b/overrides/components/mqtt-broker.yaml", atomically: true, encoding: .utf8)
        try w.commit("Break plant B's broker override")
        let plan = try w.run("plan", "--all", "--repo", w.repo)
        #expect(plan.status == 1, "a site that does not compile is an error")
        #expect(plan.stdout.contains("plant-a  Plant A"))
        #expect(plan.stdout.contains("+ files/mosquitto/mosquitto.conf"), "plant A is planned: \(plan.stdout)")
        #expect(plan.stdout.contains("does not compile"))
        #expect(plan.stdout.contains("sites/plant-b/overrides/components/mqtt-broker.yaml:1:1: error: an override must be a map"))
        #expect(plan.stdout.contains("2 site(s) planned"))
        let status = try w.run("status", "--repo", w.repo)
        #expect(status.status == 1)
        #expect(status.stdout.contains("plant-b  invalid"))
        #expect(status.stdout.contains("plant-a  changes-pending"))
        let validate = try w.run("validate", "--repo", w.repo)
        #expect(validate.status == 1)
        #expect(validate.stdout.contains("sites/plant-b/overrides/components/mqtt-broker.yaml:1:1: error: an override must be a map"))

        // A problem of the repository as a whole (a site running an unknown component) still stops every plan.
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "components: [ignition-gateway,", "components: [ignition-gatewya,")
        try w.commit("Misspell a component")
        let refused = try w.run("plan", "--all", "--repo", w.repo)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("did you mean 'ignition-gateway'"))
        #expect(refused.stderr.contains("nothing was planned"))
        #expect(!refused.stdout.contains("plant-b  "))
    }

    @Test func deployPlanDriftAndAuditStoryEndToEnd() throws {
        let w = try Workspace()
        #expect(try w.run("init").status == 0)
        let publicKey = try w.run("audit", "public-key")
        try publicKey.stdout.write(toFile: w.root + "/auditor.pub", atomically: true, encoding: .utf8)

        let first = try w.run("plan", "--site", "plant-a", "--repo", w.repo, "--json")
        #expect(first.status == 2, "changes pending")
        let id = try #require(first.stdout.components(separatedBy: "\"id\": \"sha256:").dropFirst().first?.prefix(12)).description

        let refused = try w.runAs("ops", ["apply", "--site", "plant-a", "--plan", "000000000000", "--ungated", "--hooks", "skip", "--repo", w.repo])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("nothing was applied"))
        #expect(!FileManager.default.fileExists(atPath: w.targets + "/plant-a"))

        let apply = try w.runAs("ops", ["apply", "--site", "plant-a", "--plan", id, "--ungated", "--hooks", "skip", "--repo", w.repo])
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(FileManager.default.fileExists(atPath: w.targets + "/plant-a/mosquitto/mosquitto.conf"))
        #expect(try w.run("plan", "--site", "plant-a", "--repo", w.repo).status == 0, "in sync after the apply")

        try w.replace(w.repo + "/flows/energy-monitoring.yaml", "unit_id: 3\n      interval: 5s", "unit_id: 3\n      interval: 2s")
        try w.commit("Poll line 3 every 2 s")
        let change = try w.run("plan", "--site", "plant-a", "--repo", w.repo)
        #expect(change.status == 2)
        #expect(change.stdout.contains("brick meter-line-3 config.interval 5s → 2s"))

        try w.replace(w.targets + "/plant-a/mosquitto/acl", "topic", "topic ")
        let status = try w.run("status", "--site", "plant-a", "--repo", w.repo)
        #expect(status.status == 1)
        #expect(status.stdout.contains("drifted"))
        #expect(status.stdout.contains("files/mosquitto/acl changed outside Interlock since plan \(id)"))
        _ = try w.run("status", "--site", "plant-a", "--repo", w.repo)

        let actions = try w.auditActions()
        #expect(actions.filter { $0 == "drift.detected" }.count == 1, "the same drift is recorded once: \(actions)")
        #expect(actions.contains("apply.started.ungated") && actions.contains("apply.succeeded"))
        #expect(actions.contains("gate.bypassed"))
        #expect(actions.firstIndex(of: "apply.started.ungated")! < actions.firstIndex(of: "apply.succeeded")!)

        let verify = try w.run("audit", "verify", "--public-key", w.root + "/auditor.pub")
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let export = try w.run("audit", "export", "--format", "jsonl", "--out", w.root + "/audit.jsonl")
        #expect(export.status == 0, "\(export.stderr)")
        let verifyExport = try w.run("audit", "verify", "--export", w.root + "/audit.jsonl", "--public-key", w.root + "/auditor.pub")
        #expect(verifyExport.status == 0, "\(verifyExport.stdout)\(verifyExport.stderr)")
    }

    /// Plant A deployed directly, then a commit that changes several of its files, reconciled and approved.
    func approvedMultiFileChange(_ w: Workspace) throws -> String {
        #expect(try w.run("init").status == 0)
        let plan = try w.run("plan", "--site", "plant-a", "--repo", w.repo, "--json")
        let id = try #require(plan.stdout.components(separatedBy: "\"id\": \"sha256:").dropFirst().first?.prefix(12)).description
        #expect(try w.runAs("ops", ["apply", "--site", "plant-a", "--plan", id, "--ungated", "--hooks", "skip", "--repo", w.repo]).status == 0)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "10.20.1.15", "10.20.1.16")
        try w.commit("New OPC UA server at Plant A")
        let reconcile = try w.run("reconcile", "--hooks", "skip", "--repo", w.repo)
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        let approve = try w.runAs("mgr-plant-a", ["approve", "plant-a-2", "--reason", "OPC UA server replaced during the shutdown", "--repo", w.repo])
        #expect(approve.status == 0, "\(approve.stdout)\(approve.stderr)")
        return "plant-a-2"
    }

    static let insideWindow = ["INTERLOCK_NOW": "2026-11-28T23:00:00+01:00", "INTERLOCK_REHEARSAL": "1"]

    /// Every file under a directory with its bytes, for before/after comparisons.
    func tree(_ root: String) -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            guard !path.hasPrefix(".interlock"), let data = FileManager.default.contents(atPath: root + "/" + path) else { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue { result[path] = data }
        }
        return result
    }

    @Test func killedApplyIsRolledBackOnTheNextStartAndAudited() throws {
        let w = try Workspace()
        let change = try approvedMultiFileChange(w)
        let before = tree(w.targets + "/plant-a")
        let (process, _, _) = try w.start(["apply", "--change", change, "--hooks", "skip", "--repo", w.repo, "--as", "ops", "--password-stdin"],
                                          environment: Self.insideWindow.merging(["INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS": "400"]) { $1 },
                                          stdin: "ops-pass-1\n")
        // Wait until at least one file has been written, then kill the process in the middle of the change.
        let deadline = Date().addingTimeInterval(20)
        while tree(w.targets + "/plant-a") == before, Date() < deadline { usleep(50_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(tree(w.targets + "/plant-a") != before, "the kill happened mid-apply")

        let queue = try w.run("queue", "--repo", w.repo, "--json")
        #expect(queue.stdout.contains("\"status\": \"applying\""), "the dead process left the change applying")
        let recover = try w.run(["apply", "--site", "plant-b", "--dry-run", "--repo", w.repo], environment: [:])
        #expect(recover.stdout.contains("recovered \(change)"), "\(recover.stdout)\(recover.stderr)")
        #expect(tree(w.targets + "/plant-a") == before, "every file is back to its previous bytes")
        let actions = try w.auditActions()
        #expect(actions.contains("apply.recovered"))
        #expect(try w.run("audit", "verify").status == 0)
    }

    @Test func twoApplyProcessesNeverApplyTheSameChangeTwice() throws {
        let w = try Workspace()
        let change = try approvedMultiFileChange(w)
        let environment = Self.insideWindow.merging(["INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS": "50"]) { $1 }
        let arguments = ["apply", "--change", change, "--hooks", "skip", "--repo", w.repo, "--as", "ops", "--password-stdin"]
        let first = try w.start(arguments, environment: environment, stdin: "ops-pass-1\n")
        let second = try w.start(arguments, environment: environment, stdin: "ops-pass-1\n")
        first.0.waitUntilExit()
        second.0.waitUntilExit()
        let outputs = [first.1, second.1].map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }
        #expect(outputs.filter { $0.contains("applied \(change)") }.count == 1, "\(outputs)")
        #expect(try w.auditActions().filter { $0 == "apply.succeeded" }.count == 2, "the first deployment and exactly one apply of \(change)")
        #expect(try w.auditActions().filter { $0 == "apply.started" }.count == 1)
        #expect(try w.run("status", "--site", "plant-a", "--repo", w.repo).status == 0, "plant-a is in sync")
    }
}
