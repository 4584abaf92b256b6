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
    /// `host:pid` of this process, recorded on the change while applying.
    public var owner: String
    /// The rollout waves to respect; nil: none.
    public var rollout: RolloutContext?

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
        self.owner = "\(ProcessInfo.processInfo.hostName):\(getpid())"
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

        let driver = planning.driver(for: site)
        let receipt: ApplyReceipt
        do {
            receipt = try driver.apply(change.plan)
            try store.saveReceipt(changeID: change.id, receipt: receipt)
        } catch {
            let failed = try store.transition(changeID: change.id, from: [.applying], to: .rolledBack, reason: "\(error)", events: [
                event(.apply, "apply.failed", claimed, site: site, before: "applying", after: "failed", success: false, error: "\(error)"),
                event(.apply, "rollback.completed", claimed, site: site, before: "failed", after: "rolled-back",
                      reason: "the driver rolled back the operations it had applied"),
            ])
            return .rolledBack(failed, reason: "\(error)")
        }
        var operationEvents = change.plan.operations.map { op in
            AuditEvent(actor: actor, role: actorRole, authentication: authentication, category: .apply, action: "apply.operation",
                       site: site.name, resource: op.path, changeID: change.id, planID: change.plan.id, commit: change.plan.commit,
                       before: op.beforeHash, after: op.afterHash, details: ["action": op.action.rawValue, "timezone": site.timezone])
        }

        if runHooks {
            let hooks = Hooks(site: site.name, workingDirectory: planning.workingDirectory, environment: planning.hookEnvironment(for: site))
            for (component, hook, command) in Hooks.commands(for: change.plan, desired: desired) {
                do {
                    let output = try hooks.run(component: component, hook: hook, command: command)
                    operationEvents.append(event(.apply, "\(hook).succeeded", change, site: site, resource: "components/\(component)",
                                                 details: ["command": command.arguments.joined(separator: " "), "output": String(output.suffix(500))]))
                } catch let failure as Hooks.Failure {
                    var rollbackNote = "every operation was rolled back"
                    var rollbackOK = true
                    do { try driver.rollback(receipt) } catch {
                        rollbackNote = "ROLLBACK FAILED: \(error)"
                        rollbackOK = false
                    }
                    operationEvents.append(event(.apply, "\(hook).failed", change, site: site, resource: "components/\(component)", success: false,
                                                 error: failure.message, details: ["command": command.arguments.joined(separator: " ")]))
                    operationEvents.append(event(.apply, "apply.failed", change, site: site, before: "applying", after: "failed", success: false, error: failure.description))
                    operationEvents.append(event(.apply, "rollback.completed", change, site: site, before: "failed", after: rollbackOK ? "rolled-back" : "failed",
                                                 success: rollbackOK, error: rollbackOK ? nil : rollbackNote, reason: rollbackNote))
                    let final = try store.transition(changeID: change.id, from: [.applying], to: rollbackOK ? .rolledBack : .failed,
                                                     reason: "\(failure); \(rollbackNote)", events: operationEvents)
                    return .rolledBack(final, reason: "\(failure); \(rollbackNote)")
                }
            }
        }
        operationEvents.append(event(.apply, "apply.succeeded", change, site: site, before: "applying", after: "applied",
                                     details: ["applied": receipt.applied.joined(separator: ","), "summary": change.plan.summary]))
        let applied = try store.transition(changeID: change.id, from: [.applying], to: .applied, reason: nil, events: operationEvents,
                                           baseline: baseline(of: change, site: site, state: state))
        return .applied(applied)
    }

    /// Rolls back applies that a dead process left half done (same host, owner process gone).
    public func recoverInterrupted(_ state: DesiredState) throws -> [String] {
        var notes: [String] = []
        for change in try store.changes(sites: [], statuses: [.applying], limit: nil) {
            guard let owner = try store.owner(changeID: change.id), isDead(owner) else { continue }
            guard let site = state.site(named: change.site) else { continue }
            let driver = planning.driver(for: site)
            let what: String
            let success: Bool
            do {
                what = try driver.recoverInterruptedApply() ?? "no journal at the target: nothing had been written, or the driver cannot tell — check the site"
                success = true
            } catch {
                what = "recovery failed: \(error)"
                success = false
            }
            _ = try store.transition(changeID: change.id, from: [.applying], to: success ? .rolledBack : .failed,
                                     reason: "interrupted (\(owner) died): \(what)", events: [
                event(.apply, "apply.recovered", change, site: site, before: "applying", after: success ? "rolled-back" : "failed",
                      success: success, error: success ? nil : what, reason: "the process applying it (\(owner)) died: \(what)"),
            ])
            notes.append("\(change.id): \(what)")
        }
        return notes
    }

    /// What an applied change leaves trusted at its site: the rules files of the desired state it was applied from.
    func baseline(of change: ChangeRequest, site: Site, state: DesiredState) -> SiteBaseline? {
        guard let files = RulesFiles(site: site.name, in: state) else { return nil }
        // The real time: a rehearsal's simulated clock must not reach the stored state.
        return SiteBaseline(site: site.name, changeID: change.id, commit: change.plan.commit ?? state.commitID, files: files, appliedAt: Date())
    }

    private func isDead(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":")
        guard parts.count == 2, String(parts[0]) == ProcessInfo.processInfo.hostName, let pid = Int32(parts[1]) else { return false }
        if pid == getpid() { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
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
