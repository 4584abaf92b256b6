import Foundation
import Hummingbird
import InterlockAgent
import InterlockEngine
import InterlockModel
import InterlockStore

/// The routes by which a plant's agent applies its site's changes: the long poll that hands it a ready change, the
/// claim (compare-and-set, with the gates checked again), the lease it renews while applying, a refusal, and the
/// result. Every record is written by the server in the one chain, with the agent as the actor.
extension AgentListener {
    func addApplyRoutes(_ agent: RouterGroup<AgentContext>) {
        agent.get("sites/:site/poll") { request, context in
            let site = try context.parameters.require("site")
            let certificate = try await self.authenticate(context, site: site, action: "poll")
            let query = FormFields.query(request)
            let known = query["known"] ?? ""
            let wait = min(Self.maximumWait, max(0, query["wait"].flatMap(Double.init) ?? 25))
            try await self.touch(certificate, context)
            let deadline = Date().addingTimeInterval(wait)
            var checkedPass: Int?
            while true {
                // The desired state and the gates change only in a reconcile pass: a waiting poll looks again only
                // after one (an approval, a report or a claim triggers one at once), so an idle agent costs a continuation
                // (PassWaiters).
                let passes = self.loop?.observations.passes ?? 0
                if passes != checkedPass {
                    checkedPass = passes
                    let desired = try await offload { try self.desired(site: site) }
                    let work = try await offload { try self.work(site: site, desired: desired) }
                    if desired.version != known || work != nil {
                        return try Self.json(AgentProtocol.Poll(desired: desired.version != known ? desired : nil, work: work, serverTime: Date()))
                    }
                }
                if Date() >= deadline { return Response(status: .noContent) }
                await self.passWaiters.wait(after: passes, until: deadline)
            }
        }
        agent.post("sites/:site/changes/:change/claim") { request, context in
            let site = try context.parameters.require("site"), id = try context.parameters.require("change")
            let certificate = try await self.authenticate(context, site: site, action: "claim")
            try await self.touch(certificate, context)
            let body = try await Self.decode(request, AgentProtocol.Claim.self)
            let lease = try await offload { try self.claim(site: site, changeID: id, planID: body.planID, certificate: certificate) }
            self.loop?.trigger()
            return try Self.json(lease)
        }
        agent.post("sites/:site/changes/:change/lease") { request, context in
            let site = try context.parameters.require("site"), id = try context.parameters.require("change")
            let certificate = try await self.authenticate(context, site: site, action: "lease")
            try await self.touch(certificate, context)
            let body = try await Self.decode(request, AgentProtocol.Lease.self)
            let store = self.store
            let renewed = try await offload { () -> ChangeLease? in
                guard let change = try store.change(id: id), change.site == site else { return nil }
                return try store.renewLease(changeID: id, token: body.token) ? try store.lease(changeID: id) : nil
            }
            guard let renewed else { throw ServerError(.conflict, "the lease \(body.token) on \(id) is not held any more") }
            return try Self.json(AgentProtocol.Lease(token: renewed.token, expiresAt: renewed.expiresAt))
        }
        agent.post("sites/:site/changes/:change/refusal") { request, context in
            let site = try context.parameters.require("site"), id = try context.parameters.require("change")
            let certificate = try await self.authenticate(context, site: site, action: "refusal")
            let body = try await Self.decode(request, AgentProtocol.Refusal.self)
            guard ["clock-skew", "window-closed"].contains(body.kind), body.reason.utf8.count <= 2000 else {
                throw ServerError(.badRequest, "a refusal is of kind clock-skew or window-closed, with a reason of at most 2000 bytes")
            }
            let store = self.store
            let now = Date()
            try await offload {
                guard let change = try store.change(id: id), change.site == site else { throw ServerError(.notFound, "\(site) has no change \(id)") }
                try store.record([self.event(certificate, "apply.refused", change, success: false, error: body.reason,
                                             details: ["kind": body.kind, "agentTime": AuditTimestamp.format(body.agentTime),
                                                       "serverTime": AuditTimestamp.format(now)])])
            }
            return try Self.json(AgentProtocol.ReportAnswer(stored: true))
        }
        agent.post("sites/:site/changes/:change/result") { request, context in
            let site = try context.parameters.require("site"), id = try context.parameters.require("change")
            let certificate = try await self.authenticate(context, site: site, action: "result")
            try await self.touch(certificate, context)
            let body = try await FormFields.collectBody(request, limit: Self.maximumReport)
            let result: AgentProtocol.Result
            do {
                result = try AgentProtocol.decoder().decode(AgentProtocol.Result.self, from: Data(buffer: body))
            } catch {
                throw ServerError(.badRequest, "the result is not the JSON this route takes (docs/agent.md): \(error)")
            }
            guard result.change == id else { throw ServerError(.badRequest, "the result names \(result.change), the route \(id)") }
            let answer = try await offload { try self.record(result, site: site, certificate: certificate) }
            self.loop?.trigger()
            return try Self.json(answer)
        }
    }

    /// Who the agent is on a queue record.
    func event(_ certificate: AgentCertificate, _ action: String, _ change: ChangeRequest, category: AuditEvent.Category = .apply, resource: String? = nil,
               before: String? = nil, after: String? = nil, success: Bool = true, error: String? = nil, reason: String? = nil,
               details: [String: String] = [:]) -> AuditEvent {
        let actor = AgentAdministration.actor(of: certificate)
        return AuditEvent(actor: Person(id: actor.id, name: actor.name), role: "agent", authentication: actor.authentication, category: category,
                          action: action, site: change.site, resource: resource, changeID: change.id, planID: change.plan.id, commit: change.plan.commit,
                          before: before, after: after, reason: reason, success: success, error: error, details: details)
    }

    /// The owner a claim by this agent records (host:pid does not apply: the agent is in the plant).
    static func owner(_ certificate: AgentCertificate) -> String { "agent:\(certificate.site):\(certificate.serial.prefix(16))" }

    /// The site's oldest ready change, as work for its agent; nil when there is none.
    func work(site: String, desired: AgentProtocol.Desired) throws -> AgentProtocol.Work? {
        guard let change = try store.changes(sites: [site], statuses: [.ready], limit: nil).min(by: { $0.createdAt < $1.createdAt }),
              let loaded = loop?.observations.loaded, let siteDefinition = loaded.state.site(named: site) else { return nil }
        // The desired resources handed over with the work must be those the plan was computed from: a poll that
        // falls between a new commit's load and its re-plan waits for the next pass.
        guard change.plan.commit == nil || (loaded.commitID == change.plan.commit && desired.commit == change.plan.commit) else { return nil }
        let compilation = loaded.state.compile(site: siteDefinition)
        // `serve --hooks skip` holds for the agents too (and is recorded on the claim).
        let runHooks = loop?.instance.runHooks ?? true
        let hooks = !runHooks ? [] : Hooks.commands(for: change.plan, desired: compilation.site).map {
            AgentProtocol.Work.Hook(component: $0.component, hook: $0.hook, command: $0.command.arguments, timeout: $0.command.timeout.map { Double($0.seconds) })
        }
        // Both instants in this host's real time: in a rehearsal the gate clock is simulated, and the agent compares
        // them with its own clock (the window's remaining time carries over).
        let gateNow = clock.now(), realNow = Date()
        var startBefore: Date?
        if change.gate == .window || change.gate == .approvalAndWindow, let schedule = MaintenanceSchedule(site: siteDefinition),
           case .open(let window, _) = schedule.windowGate(at: gateNow, minimumRemaining: siteDefinition.minimumWindowRemaining) {
            let latest = window.end.addingTimeInterval(-Double(siteDefinition.minimumWindowRemaining.seconds))
            startBefore = realNow.addingTimeInterval(latest.timeIntervalSince(gateNow))
        }
        return AgentProtocol.Work(
            change: change.id, planID: change.plan.id, plan: change.plan.storedForAgent.prettyJSON, desired: desired, startBefore: startBefore,
            serverTime: realNow, hooks: hooks, leaseSeconds: store.leaseDuration)
    }

    /// Claims a ready change for the agent after checking its gates again, as the server's own executor does.
    func claim(site: String, changeID: String, planID: String, certificate: AgentCertificate) throws -> AgentProtocol.Lease {
        guard let loop, let loaded = loop.observations.loaded, let siteDefinition = loaded.state.site(named: site), siteDefinition.reach == .agent else {
            throw ServerError(.serviceUnavailable, "the server has not read a desired state with \(site) reached through its agent")
        }
        guard let change = try store.change(id: changeID), change.site == site else { throw ServerError(.notFound, "\(site) has no change \(changeID)") }
        guard change.plan.id == planID else {
            throw ServerError(.conflict, "\(changeID) has plan \(change.plan.id.prefix(19)) now, not the plan the agent was given: poll again")
        }
        guard change.status == .ready else {
            throw ServerError(.conflict, "\(changeID) is \(change.status.rawValue), not ready: it was claimed already, superseded, or its gates closed")
        }
        if let commit = loaded.commitID, let planned = change.plan.commit, commit != planned {
            throw ServerError(.conflict, "the desired state is at commit \(commit.prefix(10)), the change was planned at \(planned.prefix(10)); it is re-planned first")
        }
        let now = clock.now()
        let instance = loop.instance
        let rules = try GateRules.resolve(siteDefinition, proposedConfig: loaded.state.config, store: store)
        let wave = try instance.rollout?(loaded.state).gate(planning: instance.planning, state: loaded.state).evaluate(change, site: siteDefinition, state: loaded.state, at: now)
        let gates = GateEvaluator.evaluate(change, rules: rules, at: now, wave: wave)
        guard gates.isOpen else {
            throw ServerError(.conflict, "the gates of \(changeID) are not open: \(gates.waitingFor.joined(separator: "; "))")
        }
        let owner = Self.owner(certificate)
        do {
            _ = try store.claim(changeID: changeID, owner: owner, emergency: false, events: [
                event(certificate, "apply.started", change, before: "ready", after: "applying", details: [
                    "operations": String(change.plan.operations.count), "summary": change.plan.summary, "owner": owner, "hooks": instance.runHooks ? "run by the agent" : "skipped by the operator",
                    "approvers": gates.approvers.joined(separator: ","), "timezone": siteDefinition.timezone,
                ]),
            ])
        } catch let error as ChangeStoreError where error.code == .conflict {
            throw ServerError(.conflict, error.message)
        }
        guard let lease = try store.lease(changeID: changeID), lease.owner == owner else {
            throw ServerError(.conflict, "\(changeID) was claimed by another process first")
        }
        return AgentProtocol.Lease(token: lease.token, expiresAt: lease.expiresAt)
    }

    /// Records an agent's result: the records the server's executor would have written, in one transaction with the
    /// transition, conditional on the claim's token. A repeat is answered `already-recorded`; a conflicting one 409.
    func record(_ result: AgentProtocol.Result, site: String, certificate: AgentCertificate) throws -> AgentProtocol.ResultAnswer {
        guard let change = try store.change(id: result.change), change.site == site else { throw ServerError(.notFound, "\(site) has no change \(result.change)") }
        guard change.plan.id == result.planID else { throw ServerError(.conflict, "\(change.id) has another plan than the result's") }
        let final: ChangeStatus
        switch result.outcome {
        case "applied": final = .applied
        case "rolled-back": final = .rolledBack
        case "failed": final = .failed
        case "aborted": final = .superseded
        default: throw ServerError(.badRequest, "'\(result.outcome.prefix(40))' is not an outcome (applied, rolled-back, failed, aborted)")
        }
        guard change.status == .applying else {
            if change.status == final { return AgentProtocol.ResultAnswer(status: "already-recorded", change: change.id, changeStatus: change.status.rawValue) }
            throw ServerError(.conflict, "\(change.id) is \(change.status.rawValue); a result '\(result.outcome)' conflicts with what is recorded")
        }
        let loaded = loop?.observations.loaded
        let siteDefinition = loaded?.state.site(named: site)
        let timezone = siteDefinition?.timezone ?? "UTC"
        let recovered = result.recovered ? " (found by the agent after it restarted)" : ""
        var events: [AuditEvent] = []
        let written = Set(result.applied)
        events += change.plan.operations.filter { written.contains($0.path) }.map { op in
            event(certificate, "apply.operation", change, resource: op.path, before: op.beforeHash, after: op.afterHash,
                  details: ["action": op.action.rawValue, "timezone": timezone])
        }
        for run in result.hooks {
            events.append(event(certificate, "\(run.hook).\(run.succeeded ? "succeeded" : "failed")", change, resource: "components/\(run.component)",
                                success: run.succeeded, error: run.succeeded ? nil : String(run.output.suffix(500)),
                                details: ["command": run.command.joined(separator: " "), "output": String(run.output.suffix(500))]))
        }
        let reason = result.reason.map { String($0.prefix(2000)) }
        var baseline: SiteBaseline?
        switch final {
        case .applied:
            events.append(event(certificate, "apply.succeeded", change, before: "applying", after: "applied", reason: result.recovered ? "found applied by the agent after it restarted" : nil,
                                details: ["applied": result.applied.joined(separator: ","), "summary": change.plan.summary, "timezone": timezone]))
            if let loaded, let siteDefinition, loaded.commitID == change.plan.commit, let files = RulesFiles(site: site, in: loaded.state) {
                baseline = SiteBaseline(site: site, changeID: change.id, commit: change.plan.commit, files: files, appliedAt: Date())
            }
            _ = siteDefinition
        case .rolledBack:
            events.append(event(certificate, "apply.failed", change, before: "applying", after: "failed", success: false, error: (reason ?? "the apply failed") + recovered))
            events.append(event(certificate, "rollback.completed", change, before: "failed", after: "rolled-back",
                                reason: "\(reason ?? "the apply failed"); re-observed by the agent: every resource holds its previous content"))
        case .failed:
            let paths = result.notAsBefore.prefix(200).joined(separator: ", ")
            events.append(event(certificate, "apply.failed", change, before: "applying", after: "failed", success: false, error: (reason ?? "the apply failed") + recovered))
            events.append(event(certificate, "rollback.failed", change, before: "failed", after: "failed", success: false,
                                error: "\(reason ?? "the apply failed"); ROLLBACK INCOMPLETE: these resources are not as they were: \(paths) — check the site"))
        default:
            events.append(event(certificate, "apply.aborted", change, before: "applying", after: "superseded", success: false,
                                error: "\(reason ?? "the live state changed since the plan was computed"); nothing was applied, the site will be re-planned",
                                details: ["plannedLive": change.plan.liveFingerprint, "observedLive": result.live?.fingerprint ?? ""]))
            for item in result.live?.drift ?? [] {
                events.append(AuditEvent(actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .drift, action: "drift.detected",
                                         site: site, resource: item.path, changeID: change.id, planID: item.appliedByPlan, commit: item.appliedCommit,
                                         before: item.expectedHash, after: item.actualHash ?? "vanished", details: ["kind": item.kind, "reported": "by the agent"]))
            }
        }
        let fence = LeaseFence(changeID: change.id, token: result.token)
        // What the agent saw after the outcome becomes the site's live state before the outcome is recorded: no pass
        // (this result triggers one) and no commit pushed a moment later is planned against the report from before
        // the apply — that plan would queue the applied files again and be superseded by the agent's next report,
        // approvals and all. While the change is still `applying` nobody plans the site anew.
        if let live = result.live, (try? live.liveState()) != nil {
            try store.saveObservation(site: site, report: live, at: Date(), serial: certificate.serial)
        }
        do {
            let updated = try store.transition(changeID: change.id, from: [.applying], to: final, reason: reason, events: events, baseline: baseline, fence: fence)
            return AgentProtocol.ResultAnswer(status: "recorded", change: updated.id, changeStatus: updated.status.rawValue)
        } catch let error as ChangeStoreError where error.code == .fenced {
            throw ServerError(.conflict, "the result's lease token \(result.token) does not hold \(change.id): \(error.message)")
        } catch let error as ChangeStoreError where error.code == .conflict {
            let now = try store.change(id: change.id)
            if now?.status == final { return AgentProtocol.ResultAnswer(status: "already-recorded", change: change.id, changeStatus: final.rawValue) }
            throw ServerError(.conflict, error.message)
        }
    }
}
