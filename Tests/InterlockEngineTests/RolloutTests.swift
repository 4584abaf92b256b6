import Foundation
import InterlockGit
import Testing
@testable import InterlockEngine
import InterlockModel
import InterlockStore
import InterlockTestSupport

/// A linear history of commit ids, oldest first: the rollout's view of git in these tests (git ancestry
/// itself is tested against real repositories in InterlockGitTests).
struct LinearHistory: CommitGraph {
    var commits: [String]
    func contains(_ ancestor: String, in descendant: String) -> Bool {
        guard let a = commits.firstIndex(of: ancestor), let d = commits.firstIndex(of: descendant) else { return ancestor == descendant }
        return a <= d
    }
}

/// Plant A (pilot, bake 24h, Europe/Berlin) then Plant B (fleet, America/New_York), on real file targets.
final class RolloutFixture {
    let queue: QueueFixture
    var history = LinearHistory(commits: [])

    init(store: StoreKind = .sqlite) throws {
        queue = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store)
        try queue.engine.deploy("plant-a")
        try queue.engine.deploy("plant-b")
    }

    /// Makes the current snapshot "commit" `id` (40 hex digits from one character).
    func commit(_ character: Character) -> String {
        let id = String(repeating: character, count: 40)
        queue.engine.snapshot.commitID = ObjectID(hex: id)
        history.commits.append(id)
        return id
    }

    var rollout: RolloutContext {
        RolloutContext(config: queue.engine.state.config, store: queue.store, graph: history, bakeCheckInterval: 60)
    }
    var reconciler: Reconciler { Reconciler(planning: queue.engine.planning, store: queue.store, clock: queue.clock, rollout: rollout) }
    var executor: Executor { Executor(planning: queue.engine.planning, store: queue.store, clock: queue.clock, rollout: rollout) }

    @discardableResult
    func reconcile() throws -> [Reconciler.SiteReport] {
        try reconciler.reconcile(queue.engine.state, commit: .init(author: QueueFixture.author, summary: "test"))
    }

    func wave(of site: String) throws -> WaveState? {
        let change = try #require(try queue.active(site))
        return try reconciler.waveState(of: change, site: queue.engine.site(site), state: queue.engine.state)
    }

    func at(_ iso: String) throws { queue.clock.set(try TestClock(iso8601: iso).now()) }

    func approveAll(_ site: String) throws {
        let change = try #require(try queue.active(site))
        let approvers = site == "plant-a" ? ["mgr-plant-a"] : ["mgr-plant-b", "ot-lead-plant-b"]
        var current = change
        for approver in approvers { current = try queue.approve(current, as: approver) }
    }

    func applyReady() throws -> [Executor.Outcome] { try executor.applyReady(queue.engine.state) }
}

@Suite struct RolloutTests {
    @Test(arguments: StoreKind.allCases) func plantBWaitsForPlantAThenForTheBakeThenForItsOwnWindow(store: StoreKind) throws {
        let f = try RolloutFixture(store: store)
        try f.queue.engine.edit("components/mqtt-broker.yaml", replacing: "max_inflight_messages: 20", with: "max_inflight_messages: 40")
        let x = f.commit("a")
        try f.reconcile()
        try f.approveAll("plant-a")
        try f.approveAll("plant-b")
        try f.reconcile()
        guard case .waiting(let reasons)? = try f.wave(of: "plant-b") else { Issue.record("plant-b must wait for the pilot"); return }
        #expect(reasons == ["plant-a (wave pilot) has not applied \(x.prefix(10)) yet"])

        let applied = try f.applyReady()
        #expect(applied.count == 1)
        guard case .applied(let a)? = applied.first else { Issue.record("plant-a applies first: \(applied)"); return }
        #expect(a.site == "plant-a")
        guard case .waiting(let baking)? = try f.wave(of: "plant-b") else { Issue.record("plant-b waits for the bake"); return }
        #expect(baking[0].contains("bakes until Sun 2026-11-29 23:00 CET (Sun 2026-11-29 22:00 UTC)"), "\(baking)")
        #expect(try f.applyReady().isEmpty, "plant-b is not ready while plant-a bakes")

        try f.at("2026-11-29T23:30:00+01:00")  // bake over; 17:30 in Greenville: no window at Plant B
        #expect(try f.wave(of: "plant-b")?.allowsStart == true)
        let reports = try f.reconcile()
        let b = try #require(reports.first { $0.site == "plant-b" })
        #expect(b.change?.status == .waiting)
        #expect(b.gates?.waitingFor.count == 1)
        #expect(b.gates?.waitingFor.first?.contains("next window 'night-changeover' opens Mon 2026-11-30 23:30 EST") == true, "\(String(describing: b.gates?.waitingFor))")

        try f.at("2026-11-30T23:40:00-05:00")  // inside Plant B's own window, in its own time zone
        try f.reconcile()
        guard case .applied(let done)? = try f.applyReady().first else { Issue.record("plant-b applies in its window"); return }
        #expect(done.site == "plant-b")
    }

    @Test(arguments: StoreKind.allCases) func healthFailureDuringBakeHaltsLaterWavesUntilResumed(store: StoreKind) throws {
        let f = try RolloutFixture(store: store)
        try f.queue.engine.edit("components/mqtt-broker.yaml", replacing: "max_inflight_messages: 20", with: "max_inflight_messages: 40")
        let x = f.commit("a")
        try f.reconcile()
        try f.approveAll("plant-a")
        try f.approveAll("plant-b")
        try f.reconcile()
        _ = try f.applyReady()
        // The broker's health check (the rendered mosquitto.conf must exist) fails an hour into the bake.
        try FileManager.default.removeItem(atPath: f.queue.engine.root("plant-a") + "/mosquitto/mosquitto.conf")
        try f.at("2026-11-29T00:00:00+01:00")
        let notes = try BakeMonitor(planning: f.queue.engine.planning, rollout: f.rollout, clock: f.queue.clock, stateAt: { _ in nil }).check(f.queue.engine.state)
        #expect(notes.count == 1 && notes[0].contains("failed during bake"), "\(notes)")
        guard case .halted(let why)? = try f.wave(of: "plant-b") else { Issue.record("plant-b must be halted"); return }
        #expect(why.hasPrefix("plant-a failed at Sun 2026-11-29 00:00 CET"))
        #expect(why.contains("health check failed during bake"))
        #expect(try f.queue.actions().contains("bake.health.failed"))

        try f.queue.store.addRolloutOverride(
            RolloutOverride(commit: x, action: .resume, by: Person(id: "ops", name: "Ops"), reason: "broker config restored by hand", at: f.queue.clock.now()),
            events: [AuditEvent(actor: Person(id: "ops", name: "Ops"), role: "operator", authentication: "test", category: .approval,
                                action: "rollout.resume", commit: x, reason: "broker config restored by hand")])
        guard case .passed(let passed)? = try f.wave(of: "plant-b") else { Issue.record("resume lets plant-b proceed"); return }
        #expect(passed.contains { $0.contains("resumed by Ops") })
    }

    @Test(arguments: StoreKind.allCases) func aNewerCommitDuringAHaltStartsANewRollout(store: StoreKind) throws {
        let f = try RolloutFixture(store: store)
        try f.queue.engine.edit("components/mqtt-broker.yaml", replacing: "max_inflight_messages: 20", with: "max_inflight_messages: 40")
        let x = f.commit("a")
        try f.reconcile()
        let a = try #require(try f.queue.active("plant-a"))
        _ = try f.queue.store.transition(changeID: a.id, from: [.waiting], to: .rolledBack, reason: "health of mqtt-broker failed", events: [])
        guard case .halted? = try f.wave(of: "plant-b") else { Issue.record("commit \(x.prefix(7)) is halted"); return }

        try f.queue.engine.edit("components/mqtt-broker.yaml", replacing: "max_inflight_messages: 40", with: "max_inflight_messages: 30")
        let y = f.commit("b")
        try f.reconcile()
        guard case .waiting(let reasons)? = try f.wave(of: "plant-b") else { Issue.record("the new commit waits, it is not halted"); return }
        #expect(reasons == ["plant-a (wave pilot) has not applied \(y.prefix(10)) yet"])
    }

    @Test(arguments: StoreKind.allCases) func aCommitThatOnlyTouchesPlantBIsNotHeldBehindThePilot(store: StoreKind) throws {
        let f = try RolloutFixture(store: store)
        try f.queue.engine.edit("sites/plant-b/overrides/components/mqtt-broker.yaml", replacing: "max_connections: 400", with: "max_connections: 450")
        f.commit("c")
        let reports = try f.reconcile()
        #expect(reports.first { $0.site == "plant-a" }?.change == nil, "plant-a is not affected")
        guard case .passed(let notes)? = try f.wave(of: "plant-b") else { Issue.record("plant-b is not held"); return }
        #expect(notes == ["plant-a is not affected by cccccccccc"])
    }

    @Test(arguments: StoreKind.allCases) func skipLetsACommitPassTheWaves(store: StoreKind) throws {
        let f = try RolloutFixture(store: store)
        try f.queue.engine.edit("components/mqtt-broker.yaml", replacing: "max_inflight_messages: 20", with: "max_inflight_messages: 40")
        let x = f.commit("a")
        try f.reconcile()
        try f.queue.store.addRolloutOverride(RolloutOverride(commit: x, action: .skip, by: Person(id: "ops", name: "Ops"), reason: "security fix", at: f.queue.clock.now()), events: [])
        #expect(try f.wave(of: "plant-b")?.allowsStart == true)
    }
}

@Suite struct CompareTests {
    @Test func aSiteComparedWithItselfIsIdentical() throws {
        let f = try EngineFixture()
        let a = try f.plan("plant-a")
        let c = SiteComparison.compare(a.desired, a.desired, liveA: a.live, liveB: a.live)
        #expect(c.desired.allSatisfy { $0.verdict == .identical })
        #expect(c.valueDifferences.isEmpty)
    }

    @Test func plantsDifferOnlyThroughDeclaredValuesAndOverrides() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.deploy("plant-b")
        let a = try f.plan("plant-a"), b = try f.plan("plant-b")
        let c = SiteComparison.compare(a.desired, b.desired, liveA: a.live, liveB: b.live)
        let flow = try #require(c.desired.first { $0.path == "flows/energy-monitoring" })
        #expect(flow.verdict == .declared)
        #expect(flow.detail.first == "overrides: sites/plant-a/overrides/flows/energy-monitoring.yaml, sites/plant-b/overrides/flows/energy-monitoring.yaml")
        #expect(c.valueDifferences.contains { $0.hasPrefix("values.opcua_host 10.20.1.15 → 10.40.7.21") })
        #expect(c.desired.contains { $0.path == "files/litmus-edge/devicehub/line-4.json" && $0.verdict == .onlyFirst })
        #expect(c.live?.allSatisfy { $0.verdict != .undeclared } == true, "both plants are deployed as declared")
    }

    @Test func liveDriftAtOneSiteIsADifferenceBeyondGit() throws {
        let f = try EngineFixture()
        try f.deploy("plant-a")
        try f.deploy("plant-b")
        try f.writeLive("plant-b", "mosquitto/acl", "topic readwrite #\n")
        let a = try f.plan("plant-a"), b = try f.plan("plant-b")
        let c = SiteComparison.compare(a.desired, b.desired, liveA: a.live, liveB: b.live)
        let undeclared = c.live?.filter { $0.verdict == .undeclared } ?? []
        #expect(undeclared.map(\.path) == ["files/mosquitto/acl"])
        #expect(undeclared.first?.detail == ["plant-b differs from git (drift or not yet applied)"])
    }
}
