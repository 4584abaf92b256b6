import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel

/// The files driver against real temporary directories: deploy, update, delete, drift, safety.
@Suite struct FilesDriverTests {
    @Test func firstDeployIntoAnEmptyRootCreatesEverythingThenIsInSync() throws {
        let f = try EngineFixture()
        let first = try f.plan("plant-a")
        #expect(first.live.resources.isEmpty)
        #expect(first.plan.count(.create) == first.desired.resources.count)
        #expect(first.plan.count(.update) == 0 && first.plan.count(.delete) == 0)
        #expect(first.plan.operations.first?.kind == .component, "components are created first")
        #expect(first.plan.operations.last?.kind == .flow, "flows come last")

        _ = try f.driver("plant-a").apply(first.plan)
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf")?.contains("listener 1883") == true)
        #expect(f.readLive("plant-a", "flows/energy-monitoring.json")?.contains("meter-line-1") == true)
        #expect(f.readLive("plant-a", ".interlock/manifest.json")?.contains(first.plan.id) == true)
        let again = try f.plan("plant-a")
        #expect(again.plan.isEmpty)
        #expect(again.plan.drift.isEmpty)
        #expect(SiteCondition(.planned(desired: again.desired, live: again.live, plan: again.plan)) == .inSync)
    }

    /// A holder whose token is lower than the highest the target has seen writes nothing, applies or rolls back;
    /// the driver without a token (an operator's own command) and the newer holder are not held back.
    @Test func aLowerFencingTokenWritesNothingAtTheTarget() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1500")
        let (_, _, plan) = try f.plan("plant-a")
        let newer = f.driver("plant-a").fenced(by: 7)
        try newer.raiseFence()
        #expect(f.readLive("plant-a", ".interlock/fence") == "7\n")
        let before = f.readLive("plant-a", "mosquitto/mosquitto.conf")
        #expect {
            _ = try f.driver("plant-a").fenced(by: 6).apply(plan)
        } throws: { ($0 as? DriverError)?.code == .fenced }
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf") == before, "nothing was written")
        #expect(f.readLive("plant-a", ".interlock/apply-in-progress.json")?.contains(plan.id) != true, "not even the journal")
        let receipt = try newer.apply(plan)
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf")?.contains("max_connections 1500") == true)
        #expect { try f.driver("plant-a").fenced(by: 6).rollback(receipt) } throws: { ($0 as? DriverError)?.code == .fenced }
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf")?.contains("max_connections 1500") == true)
        try newer.rollback(receipt)
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf") == before)
        try f.writeLive("plant-a", ".interlock/fence", "garbage")
        #expect { try newer.raiseFence() } throws: { "\($0)".contains("not a fencing token") }
    }

    @Test func modesAreSetAsDeclared() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        let attributes = try FileManager.default.attributesOfItem(atPath: f.root("plant-a") + "/mosquitto/acl")
        #expect((attributes[.posixPermissions] as? NSNumber)?.uint32Value == 0o640)
    }

    @Test func updateShowsTheChangeAndKeepsTheOldContentForRollback() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1500")
        let (_, _, plan) = try f.plan("plant-a")
        #expect(plan.summary == "+0 ~2 -0")
        let component = try #require(plan.operations.first { $0.path == "components/mqtt-broker" })
        #expect(component.changes == ["config.max_connections 1000 → 1500"])
        let conf = try #require(plan.operations.first { $0.path == "files/mosquitto/mosquitto.conf" })
        #expect(conf.changes.contains("-max_connections 1000"))
        #expect(conf.changes.contains("+max_connections 1500"))
        #expect(conf.changes.contains { $0.hasPrefix("@@ ") })

        let receipt = try f.driver("plant-a").apply(plan)
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf")?.contains("max_connections 1500") == true)
        try f.driver("plant-a").rollback(receipt)
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf")?.contains("max_connections 1000") == true)
        try f.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1500", with: "max_connections: 1000")
        #expect(try f.plan("plant-a").plan.isEmpty, "after rollback the site matches the old desired state again")
    }

    @Test func deleteRemovesOnlyManagedFilesAndLeavesUnmanagedOnesAlone() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.writeLive("plant-a", "mosquitto/local-notes.txt", "written by the plant's own engineer")
        try f.edit("components/mqtt-broker.yaml", replacing: "  - path: mosquitto/conf.d/websockets.conf", with: "  - path: mosquitto/conf.d/websockets-v2.conf")
        let (_, live, plan) = try f.plan("plant-a")
        #expect(live.resources["files/mosquitto/local-notes.txt"] == nil, "unmanaged files are not part of the live state")
        #expect(plan.operations.map { "\($0.action.symbol)\($0.path)" }.contains("-files/mosquitto/conf.d/websockets.conf"))
        #expect(plan.operations.last?.action == .delete, "deletes come last")
        _ = try f.driver("plant-a").apply(plan)
        #expect(f.readLive("plant-a", "mosquitto/conf.d/websockets.conf") == nil)
        #expect(f.readLive("plant-a", "mosquitto/conf.d/websockets-v2.conf") != nil)
        #expect(f.readLive("plant-a", "mosquitto/local-notes.txt") == "written by the plant's own engineer")
    }

    @Test func editingADeployedFileByHandIsDrift() throws {
        let f = try EngineFixture()
        let deployed = try f.deploy("plant-a")
        let conf = try #require(f.readLive("plant-a", "mosquitto/mosquitto.conf"))
        try f.writeLive("plant-a", "mosquitto/mosquitto.conf", conf.replacingOccurrences(of: "max_connections 1000", with: "max_connections 5"))
        try FileManager.default.removeItem(atPath: f.root("plant-a") + "/mosquitto/acl")
        let (desired, live, plan) = try f.plan("plant-a")
        #expect(live.drift.map(\.path) == ["files/mosquitto/acl", "files/mosquitto/mosquitto.conf"])
        #expect(live.drift.map(\.kind) == [.vanished, .modified])
        #expect(live.drift.allSatisfy { $0.appliedByPlan == deployed.id })
        #expect(live.drift[1].summary.contains("changed outside Interlock since plan \(deployed.shortID)"))
        #expect(SiteCondition(.planned(desired: desired, live: live, plan: plan)) == .drifted)
        let revert = try #require(plan.operations.first { $0.path == "files/mosquitto/mosquitto.conf" })
        #expect(revert.revertsDrift)
        #expect(revert.changes.contains("-max_connections 5"))
        #expect(plan.operations.first { $0.path == "files/mosquitto/acl" }?.action == .create)
    }

    @Test func existingUnmanagedFileAtADesiredPathIsTakenOverVisibly() throws {
        let f = try EngineFixture()
        try f.writeLive("plant-a", "mosquitto/acl", "topic readwrite #\n")
        let (_, _, plan) = try f.plan("plant-a")
        let acl = try #require(plan.operations.first { $0.path == "files/mosquitto/acl" })
        #expect(acl.action == .update)
        #expect(acl.adoptsUnmanaged)
        #expect(acl.changes.contains("-topic readwrite #"))
    }

    @Test func symlinkLeadingOutOfTheRootIsRefused() throws {
        let f = try EngineFixture()
        let outside = f.base + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: f.root("plant-a"), withIntermediateDirectories: true)
        let plan = try f.plan("plant-a").plan
        try FileManager.default.createSymbolicLink(atPath: f.root("plant-a") + "/mosquitto", withDestinationPath: outside)
        guard case .unreachable(_, let error) = f.planning.plan(f.site("plant-a"), in: f.state) else {
            Issue.record("observing through a link out of the root must fail")
            return
        }
        #expect(error.code == .refused)
        #expect(error.message.contains("symbolic link leading out of the target root"))
        #expect(throws: DriverError.self) { try f.driver("plant-a").apply(plan) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "nothing was written through the link")
    }

    /// Reads check each directory once per observation; a link further down, or in a sibling directory, is still
    /// checked, and paths that are not plain relative paths are refused before any file is touched.
    @Test func readsCheckEveryDirectoryOnTheWayOncePerObservation() throws {
        let f = try EngineFixture()
        let root = f.root("plant-a"), outside = f.base + "/outside"
        for directory in [root + "/conf/ok", root + "/shared", outside] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try Data("inside\n".utf8).write(to: URL(fileURLWithPath: root + "/conf/ok/a.txt"))
        try Data("shared\n".utf8).write(to: URL(fileURLWithPath: root + "/shared/b.txt"))
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: outside + "/c.txt"))
        try FileManager.default.createSymbolicLink(atPath: root + "/conf/inner", withDestinationPath: root + "/shared")
        try FileManager.default.createSymbolicLink(atPath: root + "/conf/escape", withDestinationPath: outside)

        let files = SafeFiles(root: root, site: "plant-a")
        #expect(try files.read("conf/ok/a.txt")?.content == Data("inside\n".utf8))
        #expect(try files.read("conf/inner/b.txt")?.content == Data("shared\n".utf8), "a link that stays inside the root is followed")
        for _ in 0..<2 {
            #expect {
                try files.read("conf/escape/c.txt")
            } throws: { error in
                (error as? DriverError)?.code == .refused && "\(error)".contains("symbolic link leading out of the target root")
            }
        }
        #expect(try files.read("conf/ok/missing.txt") == nil)
        for path in ["", "/etc/passwd", "conf//ok/a.txt", "conf/../../outside/c.txt", "./conf/ok/a.txt", "conf/ok/", "conf/ok/.."] {
            #expect(throws: DriverError.self, "'\(path)'") { try files.read(path) }
        }
    }

    /// Writes walk the directories with openat(O_NOFOLLOW): a directory swapped for a link — out of the root, or even
    /// inside it — between two writes is refused, and nothing is written or deleted through it.
    @Test func aLinkSwappedInBetweenWritesIsRefusedNeverFollowed() throws {
        let f = try EngineFixture()
        let root = f.root("plant-a"), outside = f.base + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data("keep\n".utf8).write(to: URL(fileURLWithPath: outside + "/victim.conf"))
        let files = SafeFiles(root: root, site: "plant-a")
        try files.write("conf/a.conf", Data("a\n".utf8), mode: 0o644)
        // The directory is replaced by a link between two writes of an apply.
        try FileManager.default.removeItem(atPath: root + "/conf")
        try FileManager.default.createSymbolicLink(atPath: root + "/conf", withDestinationPath: outside)
        #expect {
            try files.write("conf/b.conf", Data("b\n".utf8), mode: 0o644)
        } throws: { error in
            (error as? DriverError)?.code == .refused
        }
        #expect(throws: DriverError.self) { try files.remove("conf/victim.conf") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["victim.conf"], "nothing written or deleted through the link")
        // A link that stays inside the root is not written through either.
        try FileManager.default.removeItem(atPath: root + "/conf")
        try FileManager.default.createDirectory(atPath: root + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/conf", withDestinationPath: root + "/real")
        #expect(throws: DriverError.self) { try files.write("conf/c.conf", Data("c\n".utf8), mode: 0o644) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/real").isEmpty)
    }

    @Test func applyRefusesAFileThatChangedSincePlanningAndRollsBackWhatItDid() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1500")
        try f.edit("flows/energy-monitoring.yaml", replacing: "unit_id: 1\n      interval: 5s", with: "unit_id: 1\n      interval: 1s")
        let (_, _, plan) = try f.plan("plant-a")
        let flowBefore = try #require(f.readLive("plant-a", "flows/energy-monitoring.json"))
        let confBefore = try #require(f.readLive("plant-a", "mosquitto/mosquitto.conf"))
        try f.writeLive("plant-a", "flows/energy-monitoring.json", flowBefore + " ")
        #expect {
            try f.driver("plant-a").apply(plan)
        } throws: { error in
            "\(error)".contains("changed since the plan was computed") && "\(error)".contains("rolled back")
        }
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf") == confBefore, "the operations before the refusal were rolled back")
        #expect(f.readLive("plant-a", "flows/energy-monitoring.json") == flowBefore + " ", "the unseen change was not overwritten")
    }

    @Test func rootThatIsAFileMakesTheSiteUnreachableWithoutStoppingOthers() throws {
        let f = try EngineFixture()
        FileManager.default.createFile(atPath: f.root("plant-a"), contents: Data("not a directory".utf8))
        let outcomes = f.planning.plan(f.state.sites, in: f.state)
        #expect(outcomes.map { SiteCondition($0) } == [.unreachable, .changesPending])
        if case .unreachable(_, let error) = outcomes[0] {
            #expect(error.message.contains("not a directory"))
            #expect(error.site == "plant-a")
        }
    }

    @Test func corruptManifestIsAnErrorNotAGuess() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.writeLive("plant-a", ".interlock/manifest.json", "{ not json")
        #expect(throws: DriverError.self) { try f.driver("plant-a").observe(desired: []) }
    }
}

@Suite struct FilesDriverRecoveryTests {
    @Test func recoveryRollsBackAndRemovesTemporaryFilesOfAnInterruptedWrite() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        let before = try #require(f.readLive("plant-a", "mosquitto/mosquitto.conf"))
        try f.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1500")
        let plan = try f.plan("plant-a").plan
        _ = try f.driver("plant-a").apply(plan)
        // Simulate a crash: the in-progress marker and a half-written temporary file are still there.
        let backups = try FileManager.default.contentsOfDirectory(atPath: f.root("plant-a") + "/.interlock/backups").sorted()
        let backup = ".interlock/backups/" + backups.last!
        try f.writeLive("plant-a", ".interlock/apply-in-progress.json", "{\"plan\": \"\(plan.id)\", \"backup\": \"\(backup)\"}")
        try f.writeLive("plant-a", "mosquitto/.mosquitto.conf.interlock-4242-1", "half a fi")
        let note = try #require(try f.driver("plant-a").recoverInterruptedApply())
        #expect(note.contains("rolled back"))
        #expect(f.readLive("plant-a", "mosquitto/mosquitto.conf") == before)
        #expect(f.readLive("plant-a", "mosquitto/.mosquitto.conf.interlock-4242-1") == nil)
        #expect(f.readLive("plant-a", ".interlock/apply-in-progress.json") == nil)
        #expect(try f.driver("plant-a").recoverInterruptedApply() == nil, "nothing left to recover")
    }
}
