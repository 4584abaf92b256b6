import Foundation
import InterlockModel

/// Applies ready changes, one at a time per site: re-checks the gates, claims the change, re-observes
/// the site (never overwriting unseen drift), applies through the driver, runs the components' reload
/// and health commands, and rolls everything back when anything fails. Every step is audited.
public struct Executor: Sendable {
    public var planning: SitePlanning
    public var store: any ChangeStore
    public var clock: any InterlockClock
    /// Who is applying (`interlock` for the service, or the operator running the command).
    public var actor: Person
    public var actorRole: String
    public var authentication: String
    /// Whether reload and health commands run (skipping them is recorded on every apply).
    public var runHooks: Bool
    /// This process, recorded on the change while applying (``ProcessIdentity``).
    public var owner: String
    /// The rollout waves to respect; nil: none.
    public var rollout: RolloutContext?
    /// The token of the lease this executor works under (set on the copy that holds a lease): drivers that can,
    /// refuse its writes once the target has seen a higher one.
    var leaseToken: Int64?

    /// The site's driver, fenced by the lease held.
    func driver(for site: Site) -> any SiteDriver {
        let driver = planning.driver(for: site)
        return leaseToken.map { driver.fenced(by: $0) } ?? driver
    }

    public init(
        planning: SitePlanning, store: any ChangeStore, clock: any InterlockClock, actor: Person = AuditEvent.system,
        actorRole: String = "reconciler", authentication: String = "system", runHooks: Bool = true, rollout: RolloutContext? = nil
    ) {
        self.rollout = rollout
        self.planning = planning
        self.store = store
        self.clock = clock
        self.actor = actor
        self.actorRole = actorRole
        self.authentication = authentication
        self.runHooks = runHooks
        self.owner = ProcessIdentity.current
    }

    public enum Outcome: Sendable, Hashable {
        case applied(ChangeRequest)
        case rolledBack(ChangeRequest, reason: String)
        /// Not started: gates closed again, desired or live state moved on, or another process has it.
        case skipped(String, reason: String)
    }

    /// Applies every ready change of `sites` (all when nil).
    public func applyReady(_ state: DesiredState, sites: [String]? = nil) throws -> [Outcome] {
        let ready = try store.changes(sites: sites ?? [], statuses: [.ready], limit: nil).sorted { $0.createdAt < $1.createdAt }
        return try ready.map { change in
            guard let site = state.site(named: change.site) else { return .skipped(change.id, reason: "site \(change.site) is no longer in the desired state") }
            return try apply(change, site: site, state: state)
        }
    }

    /// Applies one change. `emergency` waives the window but needs one approval more and a reason.
    /// - Parameter firstDeployment: the gates are bypassed (`apply --ungated`): only allowed while nothing was applied at
    ///   the site; the caller has authenticated the operator and recorded the bypass.
    public func apply(_ change: ChangeRequest, site: Site, state: DesiredState, emergency: Bool = false, reason: String? = nil,
                      firstDeployment: Bool = false) throws -> Outcome {
        let rules = try GateRules.resolve(site, proposedConfig: state.config, store: store)
        if firstDeployment, !rules.firstDeployment {
            return .skipped(change.id, reason: "gates are bypassed only for a site's first deployment, and \(site.name) has been deployed")
        }
        let wave = firstDeployment ? nil : try rollout?.gate(planning: planning, state: state).evaluate(change, site: site, state: state, at: clock.now())
        var gates = GateEvaluator.evaluate(change, rules: rules, at: clock.now(), emergency: emergency, wave: wave)
        if firstDeployment { gates.waitingFor = [] }
        if let commit = state.commitID, let planned = change.plan.commit, commit != planned {
            // The rules recorded as trusted after this apply are those of the desired state read now: it must be the
            // state the change was planned at.
            return .skipped(change.id, reason: "the desired state is at commit \(commit.prefix(10)), the change was planned at \(planned.prefix(10)); reconcile first")
        }
        guard gates.isOpen else {
            if change.status == .ready {
                _ = try store.transition(changeID: change.id, from: [.ready], to: .waiting, reason: gates.waitingFor.joined(separator: "; "),
                                         events: [event(.plan, "gate.closed", change, site: site, before: "ready", after: "waiting", reason: gates.waitingFor.joined(separator: "; "))])
            }
            return .skipped(change.id, reason: gates.waitingFor.joined(separator: "; "))
        }
        var change = change
        if change.status == .waiting, !emergency {
            change = try store.transition(changeID: change.id, from: [.waiting], to: .ready, reason: "all gates open", events: [
                event(.plan, "gate.opened", change, site: site, before: "waiting", after: "ready",
                      details: ["gate": change.gate.rawValue, "approvers": gates.approvers.joined(separator: ","), "window": gates.window.map { "\($0)" } ?? "not required"]),
            ])
        }
        if site.reach == .agent {
            // Its gates are open; the plant's agent claims and applies it (the server never touches the target).
            return .skipped(change.id, reason: "\(site.name) is applied by its agent: the change is ready for it")
        }
        var startDetails = ["operations": String(change.plan.operations.count), "summary": change.plan.summary, "owner": owner,
                            "hooks": runHooks ? "run" : "skipped by the operator"]
        if emergency { startDetails["emergency"] = "window waived with \(gates.approvers.count) approval(s)" }
        let claimed: ChangeRequest
        do {
            claimed = try store.claim(changeID: change.id, owner: owner, emergency: emergency, events: [
                event(.apply, emergency ? "apply.started.emergency" : firstDeployment ? "apply.started.ungated" : "apply.started", change, site: site, before: change.status.rawValue,
                      after: "applying", reason: reason, details: startDetails),
            ])
        } catch let error as ChangeStoreError where error.code == .conflict {
            return .skipped(change.id, reason: error.message)
        }
        // From here on every write about the change carries the lease's token, and a heartbeat keeps the lease.
        guard let lease = try store.lease(changeID: change.id), lease.owner == owner else {
            return .skipped(change.id, reason: "the claim of \(change.id) was taken over before it started")
        }
        let heartbeat = LeaseHeartbeat(store: store, lease: lease)
        defer { heartbeat.stop() }
        var fenced = self
        fenced.store = FencedStore(base: store, fence: lease.fence)
        fenced.leaseToken = lease.token
        do {
            return try fenced.applyClaimed(change, claimed: claimed, site: site, state: state, firstDeployment: firstDeployment)
        } catch let error as DriverError where error.code == .fenced {
            return .skipped(change.id, reason: "this process lost its lease while applying: \(error.message)")
        } catch let error as ChangeStoreError where error.code == .fenced {
            return .skipped(change.id, reason: "this process lost its lease while applying: \(error.message)")
        }
    }

    /// The part of an apply that runs under the claim's lease (`store` is fenced by it).
    private func applyClaimed(_ change: ChangeRequest, claimed: ChangeRequest, site: Site, state: DesiredState, firstDeployment: Bool) throws -> Outcome {
        CrashPoint.reached("claimed")
        // The desired state and the live state must still be what the plan was computed against.
        let outcome = planning.plan(site, in: state)
        guard case .planned(let desired, let live, let fresh) = outcome else {
            let why: String = switch outcome {
            case .unreachable(_, let error): "the site is unreachable: \(error.message)"
            case .invalid(_, let diagnostics): "the site no longer compiles (\(diagnostics.count) problem(s))"
            case .planned: ""
            }
            let back = try store.transition(changeID: change.id, from: [.applying], to: .ready, reason: why,
                                            events: [event(.apply, "apply.aborted", claimed, site: site, before: "applying", after: "ready", success: false, error: why)])
            return .skipped(back.id, reason: why)
        }
        if firstDeployment, live.resources.values.contains(where: \.managed) {
            let why = "the target already holds resources Interlock applied: this is not a first deployment, the change goes through the queue"
            _ = try store.transition(changeID: change.id, from: [.applying], to: .ready, reason: why,
                                     events: [event(.apply, "apply.aborted", claimed, site: site, before: "applying", after: "ready", success: false, error: why)])
            return .skipped(change.id, reason: why)
        }
        if desired.fingerprint != change.plan.desiredFingerprint || live.fingerprint != change.plan.liveFingerprint {
            let moved = live.fingerprint != change.plan.liveFingerprint ? "the live state changed since the plan was computed" : "the desired state changed since the plan was computed"
            var events = [event(.apply, "apply.aborted", claimed, site: site, before: "applying", after: "superseded", success: false,
                                error: "\(moved); nothing was applied, the site will be re-planned",
                                details: ["plannedLive": change.plan.liveFingerprint, "observedLive": live.fingerprint, "newPlan": fresh.id])]
            for drift in live.drift {
                events.append(AuditEvent(actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .drift, action: "drift.detected",
                                         site: site.name, resource: drift.path, changeID: change.id, planID: drift.appliedByPlan, commit: drift.appliedCommit,
                                         before: drift.expectedHash, after: drift.actualHash ?? "vanished", details: ["kind": drift.kind.rawValue, "summary": drift.summary]))
            }
            _ = try store.transition(changeID: change.id, from: [.applying], to: .superseded, reason: "\(moved); re-planned", events: events)
            return .skipped(change.id, reason: "\(moved); nothing was applied")
        }

        // The last moment to find out cheaply that the lease is gone (a pause since the claim): nothing written yet.
        if let leaseToken, try !store.renewLease(changeID: change.id, token: leaseToken) {
            return .skipped(change.id, reason: "this process lost its lease on \(change.id) before applying; nothing was written")
        }
        let driver = driver(for: site)
        let receipt: ApplyReceipt
        do {
            receipt = try driver.apply(change.plan)
            try store.saveReceipt(changeID: change.id, receipt: receipt)
        } catch {
            // What the driver says it undid is not taken on its word: the site is observed again.
            let (final, why) = try settle(claimed, site: site, state: state, driver: driver, failure: "\(error)", events: [
                event(.apply, "apply.failed", claimed, site: site, before: "applying", after: "failed", success: false, error: "\(error)"),
            ])
            return .rolledBack(final, reason: why)
        }
        // Each step is recorded as it happens: the operations as soon as the driver has made them, each hook as it ends.
        try store.record(change.plan.operations.map { op in
            AuditEvent(actor: actor, role: actorRole, authentication: authentication, category: .apply, action: "apply.operation",
                       site: site.name, resource: op.path, changeID: change.id, planID: change.plan.id, commit: change.plan.commit,
                       before: op.beforeHash, after: op.afterHash, details: ["action": op.action.rawValue, "timezone": site.timezone])
        })
        if runHooks, let failure = try runHooks(change, site: site, desired: desired) {
            let (final, why) = try settle(claimed, site: site, state: state, driver: driver, failure: failure.description, receipt: receipt, events: [
                event(.apply, "apply.failed", change, site: site, before: "applying", after: "failed", success: false, error: failure.description),
            ])
            return .rolledBack(final, reason: why)
        }
        CrashPoint.reached("recording")
        let applied = try store.transition(changeID: change.id, from: [.applying], to: .applied, reason: nil, events: [
            event(.apply, "apply.succeeded", change, site: site, before: "applying", after: "applied",
                  details: ["applied": receipt.applied.joined(separator: ","), "summary": change.plan.summary]),
        ], baseline: baseline(of: change, site: site, state: state))
        try driver.finishApply(planID: change.plan.id)
        return .applied(applied)
    }

    /// Runs the components' reload and health commands of `change`, recording each as it ends; the first failure.
    func runHooks(_ change: ChangeRequest, site: Site, desired: CompiledSite) throws -> Hooks.Failure? {
        let hooks = Hooks(site: site.name, workingDirectory: planning.workingDirectory, environment: planning.hookEnvironment(for: site))
        for (component, hook, command) in Hooks.commands(for: change.plan, desired: desired) {
            CrashPoint.reached("hook")
            do {
                let output = try hooks.run(component: component, hook: hook, command: command)
                try store.record([event(.apply, "\(hook).succeeded", change, site: site, resource: "components/\(component)",
                                        details: ["command": command.arguments.joined(separator: " "), "output": String(output.suffix(500))])])
            } catch let failure as Hooks.Failure {
                try store.record([event(.apply, "\(hook).failed", change, site: site, resource: "components/\(component)", success: false,
                                        error: failure.message, details: ["command": command.arguments.joined(separator: " ")])])
                return failure
            }
        }
        return nil
    }

    /// How the resources of a plan stand at the site, observed.
    public enum Observed: Sendable, Equatable {
        /// Every resource holds what it held before the plan.
        case allOld
        /// Every resource holds what the plan wrote.
        case allNew
        /// Some hold neither, or the plan is half applied: these paths are not as they were.
        case mixed([String])
        /// The site could not be observed.
        case unknown(String)
    }

    /// Observes the site and compares it with the plan's before and after hashes.
    public func observe(_ plan: Plan, site: Site, state: DesiredState) -> Observed {
        guard case .planned(_, let live, _) = planning.plan(site, in: state) else {
            return .unknown("the site could not be observed")
        }
        return Self.compare(plan, with: live)
    }

    /// How the resources of `plan` stand in `live`: all as before it, all as it wrote them, or mixed.
    public static func compare(_ plan: Plan, with live: LiveState) -> Observed {
        var old = 0, new = 0
        var changed: [String] = []
        for op in plan.operations {
            let hash = live.resources[op.path].map(\.contentHash)
            if hash == op.beforeHash { old += 1 } else { changed.append(op.path) }
            if hash == op.afterHash { new += 1 }
        }
        if old == plan.operations.count { return .allOld }
        if new == plan.operations.count { return .allNew }
        return .mixed(changed)
    }

    /// After a failure: makes sure the site is back to all-old (rolling back from the receipt or the driver's journal
    /// when it is not), observes it, and records what is really there — rolled back, or failed with the paths that
    /// are not as they were.
    func settle(_ change: ChangeRequest, site: Site, state: DesiredState, driver: any SiteDriver, failure: String,
                receipt: ApplyReceipt? = nil, events: [AuditEvent]) throws -> (ChangeRequest, String) {
        var observed = observe(change.plan, site: site, state: state)
        var rollbackError: String?
        if observed != .allOld {
            do {
                if let receipt { try driver.rollback(receipt) } else { _ = try driver.rollBackInterruptedApply(planID: change.plan.id) }
            } catch {
                rollbackError = "\(error)"
            }
            observed = observe(change.plan, site: site, state: state)
        }
        var all = events
        let status: ChangeStatus
        let why: String
        switch observed {
        case .allOld:
            status = .rolledBack
            why = "\(failure); re-observed: every resource holds its previous content"
            all.append(event(.apply, "rollback.completed", change, site: site, before: "failed", after: "rolled-back", reason: why))
        case .allNew, .mixed, .unknown:
            status = .failed
            let paths: String = switch observed {
            case .mixed(let paths): "these resources are not as they were: \(paths.joined(separator: ", "))"
            case .allNew: "every resource still holds the new content"
            case .unknown(let why): why
            default: ""
            }
            why = "\(failure); ROLLBACK INCOMPLETE: \(paths)\(rollbackError.map { " (\($0))" } ?? "") — check the site"
            all.append(event(.apply, "rollback.failed", change, site: site, before: "failed", after: "failed", success: false, error: why))
        }
        let final = try store.transition(changeID: change.id, from: [.applying], to: status, reason: why, events: all)
        if status == .rolledBack { try driver.finishApply(planID: change.plan.id) }
        return (final, why)
    }

    /// Finishes applies that a dead process left behind. The site is observed again and the record says what is really
    /// there: every resource as before → rolled back; every resource new → the reload and health commands run again
    /// and it is applied (or rolled back when they fail); anything else → rolled back from the driver's journal, and
    /// failed with the paths that are not as they were when that does not bring it back.
    ///
    /// - Parameter stateAt: the desired state at a change's commit, when `state` is at another one.
    public func recoverInterrupted(_ state: DesiredState, stateAt: ((String) -> DesiredState?)? = nil) throws -> [String] {
        var notes: [String] = []
        for change in try store.changes(sites: [], statuses: [.applying], limit: nil) {
            var state = state
            if let commit = change.plan.commit, commit != state.commitID, let own = stateAt?(commit) { state = own }
            guard let site = state.site(named: change.site), site.reach == .server else { continue }
            // Taken over only when its lease expired or (on a store of one host) its process is gone; of several
            // processes recovering at once, one wins, and the loser's lease, if it comes back, fences its writes.
            let held = try store.lease(changeID: change.id)
            guard let owner = try held?.owner ?? store.owner(changeID: change.id) else { continue }
            let dead = !store.isShared && ProcessIdentity.isDead(owner)
            guard let lease = try store.takeOver(changeID: change.id, owner: self.owner, token: held?.token, ownerIsDead: dead, events: []) else { continue }
            let heartbeat = LeaseHeartbeat(store: store, lease: lease)
            defer { heartbeat.stop() }
            var fenced = self
            fenced.store = FencedStore(base: store, fence: lease.fence)
            fenced.leaseToken = lease.token
            let died = dead ? "the process applying it (\(owner)) died"
                : "the process applying it (\(owner)) stopped renewing its lease\(held?.expiresAt.map { ", which expired at \(ISO8601DateFormatter().string(from: $0))" } ?? "")"
            notes += try fenced.recover(change, site: site, state: state, died: died)
        }
        return notes
    }

    /// Finishes one interrupted apply under the lease taken over for it (`store` is fenced by it).
    private func recover(_ change: ChangeRequest, site: Site, state: DesiredState, died: String) throws -> [String] {
        var notes: [String] = []
        let driver = driver(for: site)
        do {
            // Before observing: the earlier holder, should it come back, can no longer write to the target.
            try driver.raiseFence()
        } catch {
            return ["\(change.id): not recovered yet: \(error)"]
        }
        switch observe(change.plan, site: site, state: state) {
        case .unknown(let why):
            notes.append("\(change.id): not recovered yet: \(why)")
        case .allNew:
            guard case .planned(let desired, _, _) = planning.plan(site, in: state) else { return notes }
            if runHooks, let failure = try runHooks(change, site: site, desired: desired) {
                let (_, why) = try settle(change, site: site, state: state, driver: driver, failure: "\(died); every resource held the new content, and \(failure)", events: [
                    event(.apply, "apply.recovered", change, site: site, before: "applying", after: "failed", success: false,
                          reason: "\(died) after writing every resource; its reload and health commands were run again and failed"),
                ])
                notes.append("\(change.id): \(why)")
            } else {
                let how = runHooks ? "its reload and health commands were run again and passed" : "its reload and health commands were NOT run again (hooks skipped): unverified"
                let reason = "\(died) after writing every resource; re-observed: every resource holds the new content; \(how)"
                _ = try store.transition(changeID: change.id, from: [.applying], to: .applied, reason: reason, events: [
                    event(.apply, "apply.recovered", change, site: site, before: "applying", after: "applied", reason: reason,
                          details: ["observed": "all new", "health": runHooks ? "re-run, passed" : "not re-run"]),
                ], baseline: baseline(of: change, site: site, state: state))
                try driver.finishApply(planID: change.plan.id)
                notes.append("\(change.id): \(reason)")
            }
        case .allOld, .mixed:
            let (final, why) = try settle(change, site: site, state: state, driver: driver, failure: died, events: [
                event(.apply, "apply.recovered", change, site: site, before: "applying", after: "recovering", reason: died),
            ])
            notes.append("\(change.id): \(final.status.rawValue): \(why)")
        }
        return notes
    }

    /// What an applied change leaves trusted at its site: the rules files of the desired state it was applied from.
    func baseline(of change: ChangeRequest, site: Site, state: DesiredState) -> SiteBaseline? {
        guard let files = RulesFiles(site: site.name, in: state) else { return nil }
        // The real time: a rehearsal's simulated clock must not reach the stored state.
        return SiteBaseline(site: site.name, changeID: change.id, commit: change.plan.commit ?? state.commitID, files: files, appliedAt: Date())
    }

    func event(
        _ category: AuditEvent.Category, _ action: String, _ change: ChangeRequest, site: Site, resource: String? = nil,
        before: String? = nil, after: String? = nil, success: Bool = true, error: String? = nil, reason: String? = nil,
        details: [String: String] = [:]
    ) -> AuditEvent {
        var details = details
        details["timezone"] = site.timezone
        return AuditEvent(actor: actor, role: actorRole, authentication: authentication, category: category, action: action, site: site.name,
                          resource: resource, changeID: change.id, planID: change.plan.id, commit: change.plan.commit, before: before,
                          after: after, reason: reason, success: success, error: error, details: details)
    }
}
