import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel
import InterlockStore
import InterlockTestSupport

/// The gated queue: reconcile, approvals, gates, and the executor, on real files, against a real SQLite file and a real PostgreSQL database.
@Suite struct QueueTests {
    @Test(arguments: StoreKind.allCases) func reconcileQueuesWaitingChangesAndIsIdempotent(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        let reports = try f.reconcile()
        #expect(reports.map(\.change?.status) == [.waiting, .waiting])
        #expect(reports[0].gates?.waitingFor.count == 2, "approval and window")
        let first = try #require(try f.active("plant-a"))
        #expect(first.id == "plant-a-1")
        #expect(first.gate == .approvalAndWindow)
        try f.reconcile()
        #expect(try f.store.changes(sites: ["plant-a"], statuses: [], limit: nil).count == 1, "the same plan is not queued twice")
        #expect(try f.actions().filter { $0 == "change.queued" }.count == 2)
    }

    @Test(arguments: StoreKind.allCases) func sitesANewCommitChangedAreQueuedFirstAndEverySiteIsObservedOnce(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        var observed: [SitePlanning.Summary] = []
        let reports = try f.reconciler.reconcilePass(
            f.engine.state, commit: .init(author: QueueFixture.author, summary: "test commit"), first: ["plant-b"],
            observed: { observed.append($0) }).reports
        #expect(observed.map(\.site.name) == ["plant-b", "plant-a"], "the site the commit changed is planned and queued before the others")
        #expect(reports.map(\.site) == ["plant-a", "plant-b"], "reports keep the order of the sites")
        let queued = try f.store.records(matching: .all).filter { $0.action == "change.queued" }.map(\.site)
        #expect(queued == ["plant-b", "plant-a"])
        for summary in observed {
            let plan = try #require(summary.plan)
            #expect(plan.operations.allSatisfy { $0.content == nil && $0.previousContent == nil }, "observations keep no file contents")
            #expect(plan.id == (try f.active(summary.site.name))?.plan.id, "the same plan the queue holds")
        }
        // A pass that gives way to a newer push still queues the sites its commit changed, then stops: nothing else is
        // planned, queued or gated; the next pass does the rest.
        // plant-b overrides the broker's max_connections, so the component's default reaches plant-a only.
        try f.engine.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1200")
        try f.engine.edit("sites/plant-b/overrides/components/mqtt-broker.yaml", replacing: "max_connections: 400", with: "max_connections: 450")
        let before = try f.store.records(matching: .all).count
        let cut = try f.reconciler.reconcilePass(
            f.engine.state, commit: .init(author: QueueFixture.author, summary: "pushed"), first: ["plant-b"], giveWay: { true })
        #expect(cut.complete == false)
        #expect(cut.reports.map(\.site) == ["plant-b"])
        let cutRecords = try f.store.records(matching: .all).dropFirst(before).map { "\($0.action) \($0.site ?? "")" }
        #expect(cutRecords.allSatisfy { $0.hasSuffix("plant-b") }, "plant-a was not reached: \(cutRecords)")
        #expect(cutRecords.contains("change.queued plant-b"))
        #expect(try f.active("plant-a")?.id == "plant-a-1", "plant-a keeps its change until a pass reaches it")
        let full = try f.reconciler.reconcilePass(
            f.engine.state, commit: .init(author: QueueFixture.author, summary: "pushed"), first: [], giveWay: { false })
        #expect(full.complete)
        #expect(try f.active("plant-a")?.id == "plant-a-2")
        // An unknown or empty list changes nothing.
        try f.engine.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1200", with: "max_connections: 1300")
        try f.engine.edit("sites/plant-b/overrides/components/mqtt-broker.yaml", replacing: "max_connections: 450", with: "max_connections: 500")
        _ = try f.reconciler.reconcile(f.engine.state, commit: .init(author: QueueFixture.author, summary: "next"), first: ["no-such-site"])
        let next = try f.store.records(matching: .all).filter { $0.action == "change.queued" }.map(\.site)
        #expect(Array(next.suffix(2)) == ["plant-a", "plant-b"])
    }

    @Test(arguments: StoreKind.allCases) func newCommitSupersedesTheWaitingChangeAndApprovalsDoNotCarryOver(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        try f.reconcile()
        let first = try #require(try f.active("plant-a"))
        _ = try f.approve(first, as: "mgr-plant-a")
        try f.engine.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1200")
        try f.reconcile()
        let second = try #require(try f.active("plant-a"))
        #expect(second.id == "plant-a-2")
        #expect(second.approvers.isEmpty, "approvals belong to plan \(first.plan.shortID), not \(second.plan.shortID)")
        #expect(try f.store.change(id: "plant-a-1")?.status == .superseded)
        #expect(throws: ChangeStoreError.self) { _ = try f.approve(first, as: "deputy-plant-a") }
        #expect(try f.actions().contains("change.superseded"))
    }

    @Test(arguments: StoreKind.allCases) func aPlanThatDiffersOnlyByItsCommitKeepsItsSignaturesInBothStores(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        try f.prepareBrokerChange()  // plant-a deployed, then a broker change waits
        let first = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        let plan = first.plan
        // The rules as trusted after a recorded apply (a baseline of plant-a's rules files).
        let files = try #require(RulesFiles(site: "plant-a", in: f.engine.state))
        let rules = GateRules.combine(proposed: f.engine.site("plant-a"), proposedConfig: f.engine.state.config,
                                      baseline: SiteBaseline(site: "plant-a", changeID: "plant-a-0", commit: nil, files: files, appliedAt: Date()))
        let again = Plan(site: plan.site, commit: "1111111111111111111111111111111111111111", liveFingerprint: plan.liveFingerprint,
                         desiredFingerprint: plan.desiredFingerprint, operations: plan.operations, drift: plan.drift)
        let carry = try #require(ApprovalCarry.candidate(active: first, plan: again, gate: first.gate, rules: rules, users: f.users, commits: [],
                                                          author: QueueFixture.author))
        #expect(carry.refusals["flow-engineer"]?.contains("wrote") == true, "the author of the commit may not sign it at plant-a")
        let result = try f.store.enqueue(NewChange(site: "plant-a", plan: again, gate: first.gate, author: QueueFixture.author, commitSummary: "unrelated",
                                                   ruleChanges: first.ruleChanges, carry: carry), events: [])
        #expect(result.change.approvers == ["mgr-plant-a"])
        #expect(result.change.approvals.first?.carriedFromChange == first.id && result.change.approvals.first?.carriedFromPlan == plan.id)
        #expect(try f.store.change(id: result.change.id)?.approvals.first?.carriedFromChange == first.id, "stored, not only returned")
        #expect(try f.actions().contains("change.approval.carried"))

        // A signer who is no longer a user of the instance: the signature lapses, and the record says why.
        let third = Plan(site: plan.site, commit: "2222222222222222222222222222222222222222", liveFingerprint: plan.liveFingerprint,
                         desiredFingerprint: plan.desiredFingerprint, operations: plan.operations, drift: plan.drift)
        let withoutAnna = try #require(ApprovalCarry.candidate(active: result.change, plan: third, gate: first.gate, rules: rules,
                                                                users: f.users.filter { $0.id != "mgr-plant-a" }, commits: [], author: nil))
        let after = try f.store.enqueue(NewChange(site: "plant-a", plan: third, gate: first.gate, author: nil, commitSummary: nil,
                                                  ruleChanges: first.ruleChanges, carry: withoutAnna), events: [])
        #expect(after.change.approvals.isEmpty)
        let lapsed = try f.store.records(matching: .all).last { $0.action == "change.superseded" && $0.changeID == result.change.id }
        #expect(lapsed?.details["lapsedWhy"]?.contains("no longer a user") == true, "\(String(describing: lapsed))")

        // Another live state: no carry is offered, and a carry whose plans are not the same work carries nothing.
        let moved = Plan(site: plan.site, commit: third.commit, liveFingerprint: "sha256:" + String(repeating: "9", count: 64),
                         desiredFingerprint: plan.desiredFingerprint, operations: plan.operations, drift: plan.drift)
        #expect(ApprovalCarry.candidate(active: after.change, plan: moved, gate: first.gate, rules: rules, users: f.users, commits: [], author: nil) == nil)
        let forged = ApprovalCarry(fromChangeID: after.change.id, fromPlanID: third.id, refusals: [:], users: ["mgr-plant-a"])
        #expect(!forged.applies(to: after.change, new: NewChange(site: "plant-a", plan: moved, gate: first.gate, author: nil, commitSummary: nil,
                                                                  ruleChanges: first.ruleChanges)))
    }

    @Test(arguments: StoreKind.allCases) func beforeAFirstDeploymentNoSignatureCarries(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        try f.reconcile()
        let first = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        let plan = first.plan
        let again = Plan(site: plan.site, commit: "1111111111111111111111111111111111111111", liveFingerprint: plan.liveFingerprint,
                         desiredFingerprint: plan.desiredFingerprint, operations: plan.operations, drift: plan.drift)
        let rules = try GateRules.resolve(f.engine.site("plant-a"), store: f.store)
        #expect(rules.baseline == nil)
        #expect(ApprovalCarry.candidate(active: first, plan: again, gate: first.gate, rules: rules, users: f.users, commits: [], author: nil) == nil,
                "the commit brings its own rules before a first deployment: a signature under another commit's rules does not carry")
    }

    @Test(arguments: StoreKind.allCases) func authorMayNotApproveAndAnApproverCountsOnce(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        try f.reconcile()
        let change = try #require(try f.active("plant-a"))
        #expect(throws: ApprovalRules.Refusal.self) { _ = try f.approve(change, as: "flow-engineer") }
        let approved = try f.approve(change, as: "mgr-plant-a")
        #expect(throws: ApprovalRules.Refusal.self) { _ = try f.approve(approved, as: "mgr-plant-a") }
        #expect(throws: ApprovalRules.Refusal.self) { _ = try f.approve(approved, as: "mgr-plant-b") }
        #expect(throws: ApprovalRules.Refusal.self) { _ = try f.approve(approved, as: "nobody") }
        #expect(approved.approvers == ["mgr-plant-a"])
    }

    @Test(arguments: StoreKind.allCases) func gatesOpenOnlyWithApprovalInsideTheWindowAndOutsideFreezes(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        try f.reconcile()
        var change = try #require(try f.active("plant-a"))
        let site = f.engine.site("plant-a")
        change = try f.approve(change, as: "mgr-plant-a")
        #expect(!GateEvaluator.evaluate(change, rules: try GateRules.resolve(site, store: f.store), at: f.clock.now()).isOpen, "approved, but outside the windows")
        f.clock.set(try TestClock(iso8601: QueueFixture.insideWeekendWindow).now())
        let open = GateEvaluator.evaluate(change, rules: try GateRules.resolve(site, store: f.store), at: f.clock.now())
        #expect(open.isOpen, "\(open.waitingFor)")
        let (ready, _, _) = try f.reconciler.updateReadiness(change, site: site)
        #expect(ready.status == .ready)

        let lateInWindow = try TestClock(iso8601: "2026-11-29T03:50:00+01:00").now()
        let closing = GateEvaluator.evaluate(ready, rules: try GateRules.resolve(site, store: f.store), at: lateInWindow)
        #expect(!closing.isOpen && closing.waitingFor[0].contains("less than the minimum"), "10 minutes left, minimum 15m")

        let yearEnd = try TestClock(iso8601: "2026-12-26T23:00:00+01:00").now()
        let frozen = GateEvaluator.evaluate(ready, rules: try GateRules.resolve(site, store: f.store), at: yearEnd)
        #expect(frozen.waitingFor.contains { $0.hasPrefix("freeze:") }, "Saturday-night window, but inside the year-end freeze")
    }

    /// A pass that planned from an observation made before the site's apply finished (an agent's result arriving
    /// meanwhile) would queue the very plan just carried out, asking for signatures on work already done.
    @Test(arguments: StoreKind.allCases) func aPlanFromBeforeTheLastApplyIsNotQueuedAgain(store: StoreKind) throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store)
        try f.prepareBrokerChange()
        let change = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        try f.reconcile()
        let inFlight = Set(try f.store.changes(sites: [], statuses: [.ready, .applying], limit: nil).map(\.id))
        #expect(inFlight == [change.id])
        let stale = SitePlanning.Summary(f.engine.planning.plan(f.engine.site("plant-a"), in: f.engine.state))
        #expect(stale.plan?.id == change.plan.id)
        guard case .applied? = try f.executor.applyReady(f.engine.state, sites: ["plant-a"]).first else {
            Issue.record("expected \(change.id) applied")
            return
        }
        let queued = try f.reconciler.queue(stale, commit: .init(author: QueueFixture.author, summary: "test commit"), config: f.engine.state.config,
                                            inFlight: inFlight)
        #expect(queued.change == nil)
        #expect(queued.report.notes.contains { $0.contains("before \(change.id) was applied") }, "\(queued.report.notes)")
        #expect(try f.active("plant-a") == nil, "nothing new waits for a signature")
        // A later pass that finds the same plan (the site put back as it was before the change) queues it: the
        // change was not in flight when that pass began.
        let later = try f.reconciler.queue(stale, commit: .init(author: QueueFixture.author, summary: "test commit"), config: f.engine.state.config,
                                           inFlight: [])
        #expect(later.change != nil)
    }

    @Test(arguments: StoreKind.allCases) func approvedChangeIsAppliedInItsWindowAndTheAuditTellsTheStory(store: StoreKind) throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store)
        try f.prepareBrokerChange()
        let change = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        let outcomes = try f.executor.applyReady(f.engine.state)
        #expect(outcomes.isEmpty, "still waiting: readiness is decided by reconcile")
        try f.reconcile()
        let applied = try f.executor.applyReady(f.engine.state, sites: ["plant-a"])
        guard case .applied(let done)? = applied.first else {
            Issue.record("expected an applied change, got \(applied)")
            return
        }
        #expect(done.id == change.id && done.status == .applied)
        #expect(f.engine.readLive("plant-a", "mosquitto/mosquitto.conf")?.contains("max_connections 1200") == true)
        let actions = try f.actions()
        for expected in ["change.queued", "change.approved", "gate.opened", "apply.started", "apply.operation", "reload.succeeded", "health.succeeded", "apply.succeeded"] {
            #expect(actions.contains(expected), "missing \(expected) in \(actions)")
        }
        #expect(try f.store.verify(trust: .none, keptCheckpoints: []).ok)
        try f.reconcile()
        #expect(try f.active("plant-a") == nil, "in sync after the apply")
    }

    @Test(arguments: StoreKind.allCases) func failingHealthCheckRollsBackToTheExactPreviousBytes(store: StoreKind) throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store)
        try f.engine.deploy("plant-a")
        let before = try #require(f.engine.readLive("plant-a", "mosquitto/mosquitto.conf"))
        try f.engine.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1200")
        try f.engine.edit("components/mqtt-broker.yaml", replacing: "test -s", with: "echo broker not answering >&2; exit 3; test -s")
        try f.reconcile()
        _ = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        try f.reconcile()
        let outcome = try #require(try f.executor.applyReady(f.engine.state).first)
        guard case .rolledBack(let change, let reason) = outcome else {
            Issue.record("expected a rollback, got \(outcome)")
            return
        }
        #expect(change.status == .rolledBack)
        #expect(reason.contains("health of mqtt-broker failed") && reason.contains("broker not answering"))
        #expect(f.engine.readLive("plant-a", "mosquitto/mosquitto.conf") == before)
        #expect(try f.actions().suffix(3) == ["health.failed", "apply.failed", "rollback.completed"])
    }

    @Test(arguments: StoreKind.allCases) func liveChangeBetweenPlanAndApplySupersedesWithoutWriting(store: StoreKind) throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store)
        try f.engine.deploy("plant-a")
        try f.engine.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1200")
        try f.reconcile()
        _ = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        try f.reconcile()
        try f.engine.writeLive("plant-a", "mosquitto/acl", "edited at the plant\n")
        let outcome = try #require(try f.executor.applyReady(f.engine.state).first)
        guard case .skipped(let id, let reason) = outcome else {
            Issue.record("expected the apply to be refused, got \(outcome)")
            return
        }
        #expect(reason.contains("live state changed"))
        #expect(try f.store.change(id: id)?.status == .superseded)
        #expect(f.engine.readLive("plant-a", "mosquitto/mosquitto.conf")?.contains("max_connections 1000") == true, "nothing was written")
        #expect(f.engine.readLive("plant-a", "mosquitto/acl") == "edited at the plant\n")
        #expect(try f.actions().contains("drift.detected"))
    }

    @Test(arguments: StoreKind.allCases) func twoExecutorsNeverApplyTheSameChangeTwice(store: StoreKind) async throws {
        let f = try QueueFixture(at: QueueFixture.insideWeekendWindow, store: store)
        try f.prepareBrokerChange()
        _ = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        try f.reconcile()
        let second = try f.anotherStore()
        let state = f.engine.state
        let executors = [f.executor, Executor(planning: f.engine.planning, store: second, clock: f.clock)]
        let outcomes = try await withThrowingTaskGroup(of: [Executor.Outcome].self) { group in
            for executor in executors { group.addTask { try executor.applyReady(state) } }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let applied = outcomes.filter { if case .applied = $0 { true } else { false } }
        #expect(applied.count == 1, "\(outcomes)")
        #expect(try f.actions().filter { $0 == "apply.succeeded" }.count == 1)
    }

    @Test(arguments: StoreKind.allCases) func emergencyNeedsOneApprovalMoreAndWaivesTheWindow(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        try f.prepareBrokerChange()
        var change = try f.approve(try #require(try f.active("plant-a")), as: "mgr-plant-a")
        let site = f.engine.site("plant-a")
        let one = GateEvaluator.evaluate(change, rules: try GateRules.resolve(site, store: f.store), at: f.clock.now(), emergency: true)
        #expect(!one.isOpen && one.waitingFor == ["approval: 1 of 2 (emergency: one more than usual) from mgr-plant-a, group:plant-a-managers"])
        change = try f.approve(change, as: "deputy-plant-a")
        let outcome = try f.executor.apply(change, site: site, state: f.engine.state, emergency: true, reason: "broker certificate expires tonight")
        guard case .applied(let applied) = outcome else {
            Issue.record("expected the emergency apply to succeed, got \(outcome)")
            return
        }
        #expect(applied.emergency)
        #expect(try f.store.records(matching: .all).contains { $0.action == "apply.started.emergency" && $0.reason == "broker certificate expires tonight" })
    }

    @Test(arguments: StoreKind.allCases) func rejectionEndsTheChange(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        try f.reconcile()
        let change = try #require(try f.active("plant-b"))
        _ = try f.store.transition(changeID: change.id, from: [.waiting, .ready], to: .rejected, reason: "not before the audit", events: [
            AuditEvent(actor: Person(id: "mgr-plant-b", name: "Maria Lopez"), role: "plant manager", authentication: "test", category: .approval,
                       action: "change.rejected", site: "plant-b", changeID: change.id, planID: change.plan.id, reason: "not before the audit"),
        ])
        #expect(throws: ChangeStoreError.self) { _ = try f.approve(change, as: "mgr-plant-b") }
        #expect(try f.active("plant-b") == nil)
    }

    @Test(arguments: StoreKind.allCases) func storedPlanRoundTripsWithItsID(store: StoreKind) throws {
        let f = try QueueFixture(store: store)
        let plan = try f.engine.plan("plant-a").plan
        let decoded = try Plan(stored: try Value.parseJSON(plan.stored.canonicalJSON))
        #expect(decoded == plan)
    }
}
