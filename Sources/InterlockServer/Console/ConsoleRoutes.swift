import Foundation
import Hummingbird
import InterlockEngine
import InterlockModel
import InterlockStore

/// The web console: server-rendered pages that work without JavaScript.
extension WebServer {
    func addConsoleRoutes(_ router: Router<ServerContext>) {
        addLoginRoutes(router)
        router.get("/") { _, context in Responses.redirect(context.principal == nil ? "/login" : "/sites") }
        router.get("/sites") { _, context in try await self.sitesPage(context) }
        router.get("/queue") { request, context in try await self.queuePage(request, context) }
        router.get("/rollout") { _, context in try await self.rolloutPage(context) }
        router.post("/rollout/:commit/:action") { request, context in try await self.decideRollout(request, context) }
        router.get("/changes/:id") { request, context in
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let signed = FormFields.query(request).text("signed")
            let flash = signed.map { ConsoleViews.Flash(kind: "ok", text: $0 == "approve" ? "Your approval was signed and recorded." : "Your rejection was signed and recorded.") }
            return try await self.changePage(id, principal: principal, flash: flash, signError: nil, status: .ok)
        }
        for approving in [true, false] {
            router.post("/changes/:id/\(approving ? "approve" : "reject")") { request, context in
                let principal = try context.requirePrincipal()
                let id = try context.parameters.require("id")
                let form = try await FormFields.body(request)
                try await self.checkCSRF(principal, token: form["csrf"], path: request.uri.path, address: context.remoteAddress)
                do {
                    _ = try await self.sign(changeID: id, approving: approving, reason: form.text("reason"), password: form["password"],
                                            plan: form.text("plan"), principal: principal, address: context.remoteAddress)
                } catch let error as ServerError where error.status != .notFound {
                    // What was typed stays (a wrong password does not cost the reason); the password never comes back.
                    return try await self.changePage(id, principal: principal, flash: nil, signError: error.message, status: error.status,
                                                     typed: (approving, form.text("reason") ?? ""))
                }
                return Responses.redirect("/changes/\(FormFields.encode(id))?signed=\(approving ? "approve" : "reject")")
            }
        }
        router.get("/audit") { request, context in try await self.auditPage(request, context, flash: nil) }
        router.get("/audit/export") { request, context in try await self.export(request, context) }
        router.get("/audit/records/:sequence") { request, context in try await self.recordPage(request, context) }
        router.get("/notifications") { request, context in try await self.notificationsPage(request, context) }
        router.post("/audit/verify") { request, context in
            let principal = try await self.requireAuditReader(context, path: request.uri.path)
            let form = try await FormFields.body(request)
            try await self.checkCSRF(principal, token: form["csrf"], path: request.uri.path, address: context.remoteAddress)
            _ = try await offload { [loop = self.loop] in try loop.verifyAuditLog() }
            return Responses.redirect("/audit")
        }
    }

    /// The change's risk summary: the site's first deployment when nothing was applied there, and the changes of any
    /// site that ended rolled back or failed (the newest 200) to find content that comes back.
    func risk(of change: ChangeRequest, rules: GateRules?) async -> ChangeRisk {
        let earlier = (try? await offload { [instance = self.instance] in
            try instance.store.changes(sites: [], statuses: [.rolledBack, .failed], limit: 200)
        }) ?? []
        let first = rules.map { $0.baseline == nil && !$0.unrecordedHistory } ?? false
        return ChangeRisk.assess(change, firstDeployment: first, earlier: earlier)
    }

    // MARK: - Notifications

    /// The outbox: failed deliveries first, then pending ones with their last error, then the newest sent.
    func notificationsPage(_ request: Request, _ context: ServerContext) async throws -> Response {
        let principal = try await requireAuditReader(context, path: request.uri.path)
        let config = instance.configuration.notifications
        let (failed, pending, sent, counts) = try await offload { [instance = self.instance] in
            (try instance.store.notifications(statuses: [.failed], limit: 100), try instance.store.notifications(statuses: [.pending], limit: 100),
             try instance.store.notifications(statuses: [.sent], limit: 50), try instance.store.notificationCounts())
        }
        let items: [[String: Any]] = (failed + pending + sent).map { n in
            ConsoleViews.view([
                "id": String(n.id), "event": n.event, "change": n.changeID, "channel": n.channel, "recipient": n.recipient, "subject": n.subject,
                "status": n.status.rawValue, "statusClass": n.status == .sent ? "ok" : n.status == .failed ? "bad" : "warn",
                "when": n.status == .sent ? n.sentAt.map(ConsoleViews.utc) : n.status == .pending ? "next \(ConsoleViews.utc(n.nextAttemptAt))" : nil,
                "attempts": n.attempts > 0 ? String(n.attempts) : nil, "error": n.status == .sent ? nil : n.lastError,
            ])
        }
        let channels = [config?.email.map { "e-mail via \($0.host):\($0.port) (\($0.security.rawValue))" },
                        config.map { $0.webhooks.isEmpty ? nil : "\($0.webhooks.count) webhook(s): \($0.webhooks.map(\.name).joined(separator: ", "))" } ?? nil]
            .compactMap { $0 }
        let data = ConsoleViews.view([
            "configured": config != nil, "rules": String(config?.rules.count ?? 0), "channels": channels.isEmpty ? "no channel" : channels.joined(separator: "; "),
            "failed": (counts[.failed] ?? 0) > 0, "pending": (counts[.pending] ?? 0) > 0,
            "failedCount": String(counts[.failed] ?? 0), "pendingCount": String(counts[.pending] ?? 0), "sentCount": String(counts[.sent] ?? 0),
            "items": items, "hasItems": !items.isEmpty,
        ])
        return views.page("notifications", title: "Notifications", data: data, principal: principal, nav: "Notifications")
    }

    // MARK: - One audit record

    /// One record with every field, its hashes and its place in the chain.
    func recordPage(_ request: Request, _ context: ServerContext) async throws -> Response {
        let principal = try await requireAuditReader(context, path: request.uri.path)
        guard let sequence = Int64(try context.parameters.require("sequence")), sequence > 0 else {
            throw ServerError(.notFound, "an audit record is named by its sequence number, e.g. /audit/records/42")
        }
        let (found, total) = try await offload { [instance = self.instance] in
            (try instance.store.records(matching: AuditQuery(sequences: sequence...sequence)).first, try instance.store.count())
        }
        guard let r = found else { throw ServerError(.notFound, "the audit log has no record \(sequence) (it holds \(total))") }
        let zone = r.details["timezone"].flatMap(TimeZone.init(identifier:)) ?? r.site.flatMap { name in
            observations.loaded?.state.site(named: name)?.timeZone
        }
        let fields: [(String, String?)] = [
            ("Sequence", "\(r.sequence) of \(total)"), ("Record id", r.id), ("Time (UTC)", ConsoleViews.utc(r.timestamp)),
            ("Plant time", zone.map { ConsoleViews.local(r.timestamp, zone: $0) }),
            ("Actor", "\(r.actor.name) (\(r.actor.id))"), ("Role", r.actor.role), ("Authenticated by", r.actor.authentication),
            ("Source", "\(r.source.process) (pid \(r.source.pid)) on \(r.source.host)"), ("Category", r.category.rawValue), ("Action", r.action),
            ("Site", r.site), ("Resource", r.resource), ("Plan", r.planID), ("Commit", r.commit), ("Before", r.before), ("After", r.after),
            ("Result", r.result.rawValue), ("Reason", r.reason), ("Error", r.error),
        ]
        let data = ConsoleViews.view([
            "sequence": String(r.sequence), "action": r.action, "change": r.changeID,
            "fields": fields.compactMap { name, value in value.map { ["name": name, "value": $0] } },
            "details": r.details.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }, "hasDetails": !r.details.isEmpty,
            "previousHash": r.previousHash, "hash": r.hash, "computedMatches": r.computedHash == r.hash,
            "previous": r.sequence > 1 ? String(r.sequence - 1) : nil, "next": r.sequence < total ? String(r.sequence + 1) : nil,
        ])
        return views.page("record", title: "Audit record \(r.sequence)", data: data, principal: principal, flash: nil, nav: "Audit")
    }

    // MARK: - Sites

    func sitesPage(_ context: ServerContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let loaded = try? await currentState()
        let now = instance.clock.now()
        let active = try await activeChanges()
        let presence = await agentPresence(loaded?.state.sites ?? [])
        let sites: [[String: Any]] = (loaded?.state.sites ?? []).map { site in
            let agent = presence[site.name]
            let json = siteJSON(site, state: loaded!.state, now: now, active: [])
            let observation = observations.site(site.name)
            let condition = observation?.condition
            var detail: String? = observation?.problem
            if detail == nil, let observation {
                var parts: [String] = []
                if let plan = observation.pendingPlan { parts.append("\(plan.summary) pending (plan \(plan.shortID))") }
                if !observation.drift.isEmpty { parts.append("\(observation.drift.count) drifted") }
                if parts.isEmpty { parts.append("\(observation.managedResources) managed resources match") }
                detail = parts.joined(separator: "; ")
            }
            let approval = site.approval.required == 0 ? "not required"
                : "\(site.approval.required) of \(site.approval.approvers.joined(separator: ", "))"
            return ConsoleViews.view([
                "name": site.name, "displayName": site.displayName, "timezone": site.timezone,
                "localTime": ConsoleViews.local(now, zone: site.timeZone),
                "status": condition?.rawValue ?? "not observed yet", "statusClass": condition.map(ConsoleViews.conditionClass),
                "statusDetail": detail, "window": json["window"]?.objectValue?["text"]?.stringValue,
                "freeze": json["freeze"]?.stringValue, "approval": approval, "target": site.targetDescription,
                "active": (active[site.name] ?? []).map { change in
                    agent?.displayStatus(of: change).map { ["id": change.id, "status": $0.status, "statusClass": "warn"] }
                        ?? ["id": change.id, "status": change.status.rawValue, "statusClass": ConsoleViews.statusClass(change.status)]
                },
                "agent": agent.map { $0.text() }, "agentClass": agent.map(Self.presenceClass),
                "drift": (observation?.drift ?? []).map { ["summary": $0.summary] }, "hasDrift": !(observation?.drift ?? []).isEmpty,
            ])
        }
        return views.page("sites", title: "Sites", data: ConsoleViews.view([
            "sites": sites, "commit": loaded?.commitID.map { String($0.prefix(10)) },
            "lastPass": observations.lastPass.map { ConsoleViews.utc($0) },
            "loadError": observations.loadError,
        ]), principal: principal, nav: "Sites")
    }

    /// The presence of the agents of those of `sites` reached through their agent (an unreadable registry: none shown).
    func agentPresence(_ sites: [Site]) async -> [String: AgentPresence] {
        let names = sites.filter { $0.reach == .agent }.map(\.name)
        guard !names.isEmpty else { return [:] }
        let certificates = (try? await offload { [instance = self.instance] in try instance.store.certificates(site: nil) }) ?? []
        return Dictionary(uniqueKeysWithValues: names.map { ($0, AgentPresence.of(site: $0, certificates: certificates)) })
    }

    static func presenceClass(_ presence: AgentPresence) -> String {
        switch presence.state {
        case .online: "ok"
        case .offline: "bad"
        case .none: "warn"
        }
    }

    // MARK: - Queue

    func queuePage(_ request: Request, _ context: ServerContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let fields = FormFields.query(request)
        let siteFilter = fields.text("site")
        let all = fields.text("all") == "1"
        let loaded = try await currentState()
        let changes = try await offload { [instance = self.instance] in
            try instance.store.changes(sites: siteFilter.map { [$0] } ?? [], statuses: all ? [] : ChangeStatus.active, limit: all ? 50 : nil)
        }
        let now = instance.clock.now()
        let presence = await agentPresence(loaded.state.sites)
        let rows: [[String: Any]] = changes.map { change in
            let unknown = presence[change.site]?.displayStatus(of: change)
            var waiting: [String] = []
            if change.status.isActive, let site = loaded.state.site(named: change.site) {
                waiting = gates(change, site: site, state: loaded.state, at: now).waitingFor
            }
            return ConsoleViews.view([
                "id": change.id, "status": unknown?.status ?? change.status.rawValue, "statusClass": unknown == nil ? ConsoleViews.statusClass(change.status) : "warn",
                "site": change.site, "planShort": change.plan.shortID, "summary": change.plan.summary, "waitingFor": waiting,
                "statusReason": unknown?.note ?? change.statusReason, "commitSummary": change.commitSummary, "author": change.author.map { "by \($0.name)" },
            ])
        }
        let empty = all ? "No change requests yet."
            : "No active change requests\(siteFilter.map { " at \($0)" } ?? ""): every site matches what was last reconciled."
        return views.page("queue", title: "Queue", data: ConsoleViews.view([
            "changes": rows, "hasChanges": !rows.isEmpty, "emptyText": empty, "siteFilter": siteFilter, "all": all,
            "siteOptions": loaded.state.sites.map { ["name": $0.name, "selected": $0.name == siteFilter] },
        ]), principal: principal, nav: "Queue")
    }

    // MARK: - Rollout

    func rolloutPage(_ context: ServerContext, flash: ConsoleViews.Flash? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let principal = try context.requirePrincipal()
        let overview = try await rolloutOverview(limit: 5)
        let now = instance.clock.now()
        // Whether this user may resume or skip a commit's rollout (the same rule as 'interlock rollout resume|skip').
        let mayOverride: Bool
        if let state = observations.loaded?.state, let user = instance.configuration.user(principal.user.id) {
            let refusal: String?? = try? await offload { [instance = self.instance] in try RolloutDecisions.refusal(for: user, state: state, store: instance.store) }
            mayOverride = refusal.map { $0 == nil } ?? false
        } else {
            mayOverride = false
        }
        let commits: [[String: Any]] = overview.commits.map { commit in
            // A decision means something while a site of a later wave has not applied the commit.
            let laterWaves = Set(overview.waves.dropFirst().map(\.name))
            let held = commit.entries.contains { $0.state == "halted" || (laterWaves.contains($0.wave) && ["waiting", "ready"].contains($0.state)) }
            return ConsoleViews.view([
                "commit": String(commit.id.prefix(10)), "fullCommit": commit.id, "summary": commit.summary,
                "columns": overview.waves.count,
                "waves": overview.waves.map { wave in
                    ConsoleViews.view([
                        "name": wave.name, "bake": wave.bake.map { "bake \($0)" },
                        "sites": commit.entries.filter { $0.wave == wave.name }.map { entry in
                            ConsoleViews.view([
                                "site": entry.site.name, "state": entry.state, "detail": entry.detail, "change": entry.change?.id,
                                "stateClass": Self.rolloutClass(entry.state),
                                "countdown": entry.bakeUntil.map { "bakes for another \(Self.remaining($0.timeIntervalSince(now)))" },
                            ])
                        },
                    ])
                },
                "halted": commit.entries.contains { $0.state == "halted" },
                "canDecide": mayOverride && held && principal.session != nil, "csrf": principal.session?.csrfToken,
            ])
        }
        return views.page("rollout", title: "Rollout", data: ConsoleViews.view([
            "commits": commits, "hasCommits": !commits.isEmpty,
        ]), principal: principal, flash: flash, nav: "Rollout", status: status)
    }

    /// `3h 12m`, `12m`, `40s`.
    static func remaining(_ seconds: TimeInterval) -> String {
        let s = max(0, Int(seconds.rounded(.up)))
        if s >= 3600 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        if s >= 60 { return "\(s / 60)m" }
        return "\(s)s"
    }

    /// `POST /rollout/COMMIT/resume|skip` from the console: the password again, a reason, the same authorisation and
    /// record as the command line.
    func decideRollout(_ request: Request, _ context: ServerContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        guard let action = RolloutOverride.Action(rawValue: try context.parameters.require("action")) else {
            throw ServerError(.notFound, "a rollout decision is resume or skip")
        }
        let prefix = try context.parameters.require("commit")
        let form = try await FormFields.body(request)
        try await checkCSRF(principal, token: form["csrf"], path: request.uri.path, address: context.remoteAddress)
        let reason = form.text("reason")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let address = context.remoteAddress
        let user = principal.user
        func refuse(_ status: HTTPResponse.Status, _ message: String, commit: String? = nil) async throws -> Response {
            try? await audit(AuditEvent(
                actor: Person(id: user.id, name: user.name), role: "operator", authentication: principal.authentication == "api-token" ? "api-token" : "local-password",
                category: .access, action: "rollout.\(action.rawValue).refused", commit: commit ?? String(prefix.prefix(64)), reason: reason.isEmpty ? nil : reason,
                success: false, error: message, details: ["remoteAddress": address]))
            return try await rolloutPage(context, flash: ConsoleViews.Flash(kind: "error", text: "Not recorded: \(message)"), status: status)
        }
        guard !reason.isEmpty else { return try await refuse(.badRequest, "a reason is required: it is recorded with your decision") }
        if let problem = try await confirmPassword(principal, form["password"], address: address) { return try await refuse(.forbidden, problem) }
        let loaded = try await currentState()
        let instance = self.instance
        let outcome: Result<(String, [String]), RolloutDecisions.Refusal> = try await offload {
            switch try RolloutDecisions.commit(named: prefix, store: instance.store) {
            case .failure(let refusal): return .failure(refusal)
            case .success(let full):
                if let message = try RolloutDecisions.refusal(for: user, state: loaded.state, store: instance.store) {
                    return .failure(RolloutDecisions.Refusal(message: message, commit: full))
                }
                let notes = try RolloutDecisions.record(action, commit: full, person: user, authentication: "local-password", reason: reason,
                                                        details: ["remoteAddress": address], state: loaded.state, store: instance.store,
                                                        reconciler: instance.reconciler(loaded.state))
                instance.checkpoint()
                return .success((full, notes))
            }
        }
        switch outcome {
        case .failure(let refusal):
            return try await refuse(refusal.commit == nil ? .notFound : .forbidden, refusal.message, commit: refusal.commit)
        case .success(let (full, _)):
            loop.trigger()
            return try await rolloutPage(context, flash: ConsoleViews.Flash(kind: "ok", text: "Rollout of \(full.prefix(10)): \(action.rawValue) recorded for \(user.name) — \(reason)"))
        }
    }

    static func rolloutClass(_ state: String) -> String {
        switch state {
        case "applied": "ok"
        case "halted", "failed", "rolled-back": "bad"
        case "no change", "superseded": "muted"
        default: "warn"
        }
    }

    // MARK: - Change

    /// Where a change's gate rules come from, in words.
    static func rulesOrigin(_ rules: GateRules) -> String {
        if let baseline = rules.baseline {
            let commit = baseline.commit.map { String($0.prefix(10)) } ?? "working tree"
            return "the rules applied with \(baseline.changeID) (commit \(commit)), tightened by this commit"
        }
        return rules.unrecordedHistory ? "no trusted rules recorded: every change waits for approval and a window" : "this commit (the site's first deployment)"
    }

    func changePage(_ id: String, principal: Principal, flash: ConsoleViews.Flash?, signError: String?, status: HTTPResponse.Status,
                    typed: (approving: Bool, reason: String)? = nil) async throws -> Response {
        let (change, site) = try await self.change(id)
        let zone = site?.timeZone
        var gates: [[String: Any]] = []
        var ready = false
        if let site, change.status == .waiting || change.status == .ready, let state = observations.loaded?.state {
            let status = self.gates(change, site: site, state: state, at: instance.clock.now())
            ready = status.isOpen
            if status.requiredApprovals > 0 {
                let names = change.approvals.filter { $0.planID == change.plan.id }.map { "\($0.approver.name) (\($0.meaning))" }
                gates.append(gate("Approval", open: status.approvalsSatisfied,
                                  "\(status.approvers.count) of \(status.requiredApprovals)" + (names.isEmpty ? " — approvers: \(self.rules(for: site).site.approval.approvers.joined(separator: ", "))" : ": " + names.joined(separator: "; "))))
            }
            if let window = status.window { gates.append(gate("Maintenance window", open: window.allowsStart, "\(window)")) }
            if let wave = status.wave { gates.append(gate("Rollout wave", open: wave.allowsStart, "\(wave)")) }
            if status.freeze.isFrozen { gates.append(["name": "Freeze", "text": "\(status.freeze)", "mark": "✗", "stateClass": "blocked"]) }
            if gates.isEmpty { gates.append(gate("Gate", open: true, "\(change.gate.rawValue): nothing to wait for")) }
        }
        let users = instance.configuration.users
        let rules = site.map { self.rules(for: $0) }
        let canApprove = site.map { ChangeSigning.mayShowForm(userID: principal.user.id, approving: true, change: change, rules: self.rules(for: $0), users: users) } ?? false
        let canReject = site.map { ChangeSigning.mayShowForm(userID: principal.user.id, approving: false, change: change, rules: self.rules(for: $0), users: users) } ?? false
        var signNote: String?
        if change.approvers.contains(principal.user.id) {
            signNote = "You have signed this plan."
        } else if !canApprove, change.status == .waiting || change.status == .ready, let rules, !rules.site.approval.allowAuthor,
                  let user = users.first(where: { $0.id == principal.user.id }), let (commit, how) = ApprovalRules.authored(by: user, change: change) {
            signNote = "You \(how) commit \(commit.prefix(10)), which this change carries: another approver must sign (authors may not approve at \(change.site))."
        } else if !canApprove, !canReject, change.status.isActive, change.status != .applying {
            if !principal.user.actsFor(change.site) {
                signNote = "You do not sign changes for \(change.site)."
            } else {
                signNote = "You are not among \(change.site)'s approvers for this change."
            }
        }
        let commitsByID = Dictionary(change.commits.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let operations: [[String: Any]] = change.plan.operations.enumerated().map { index, op in
            let lines = ConsoleViews.diffLines(op.changes)
            let about = op.about?.lines(kind: op.kind) ?? []
            let introduced = op.introducedBy.flatMap { commitsByID[$0] }
            // A flow is drawn before and after (server-rendered SVG, no script); the text list stays beside it.
            let picture = op.kind == .flow ? FlowPicture.compare(old: op.previousContent, new: op.content) : nil
            return ConsoleViews.view([
                "svg": picture.map { $0.svg(id: "flow-\(index + 1)") },
                "pictureCaption": picture.map { "\($0.touchedBricks) brick(s) and \($0.touchedConnections) connection(s) change: + added, − removed (dashed), ~ changed (dotted); hover a brick for its type, version and description." },
                "action": op.action.rawValue, "symbol": op.action.symbol, "path": op.path,
                "policyPath": op.policyPath == op.path ? nil : op.policyPath, "adopts": op.adoptsUnmanaged, "revertsDrift": op.revertsDrift,
                "lines": lines, "hasLines": !lines.isEmpty, "about": about, "hasAbout": !about.isEmpty, "describesOnly": op.describesOnly,
                "introducedBy": op.introducedBy.map { String($0.prefix(10)) }, "introducedSummary": introduced?.summary,
                "introducedAuthor": introduced.map { $0.author.name },
            ])
        }
        // Who stands behind the components this change touches, and what on the floor it affects.
        var owners: [[String: Any]] = []
        var seenComponents = Set<String>()
        var affects = Affects()
        for op in change.plan.operations {
            guard let about = op.about else { continue }
            affects = affects.union(about.affects)
            if let component = about.component, let owner = about.owner, seenComponents.insert(component).inserted {
                owners.append(ConsoleViews.view(["component": component, "product": about.product, "owner": owner.line]))
            }
        }
        // A carried signature was given (and authenticated) on the change it came from.
        let signedOn = Set([change.id] + change.approvals.compactMap(\.carriedFromChange))
        let signatureRecords = (try? await offload { [instance = self.instance] in
            try signedOn.flatMap { try instance.store.records(matching: AuditQuery(action: .exact("change.approved"), changeID: $0)) }
        }) ?? []
        let supersededRecord = change.status == .superseded ? (try? await offload { [instance = self.instance] in
            try instance.store.records(matching: AuditQuery(action: .exact("change.superseded"), changeID: change.id)).last
        }) ?? nil : nil
        func authentication(_ a: Approval) -> String {
            let record = signatureRecords.last { $0.actor.id == a.approver.id && $0.planID == (a.carriedFromPlan ?? a.planID) }
            return record?.actor.authentication ?? "not recorded"
        }
        let approvals: [[String: Any]] = change.approvals.map { a in
            ConsoleViews.view([
                "authentication": authentication(a),
                "name": a.approver.name, "id": a.approver.id, "meaning": a.meaning, "reason": a.reason,
                "local": ConsoleViews.local(a.at, zone: zone), "utc": ConsoleViews.utc(a.at), "plan": String(a.planID.dropFirst(7).prefix(12)),
                "stale": a.planID != change.plan.id, "carriedFrom": a.carriedFromChange,
                "carriedPlan": a.carriedFromPlan.map { String($0.dropFirst(7).prefix(12)) },
            ])
        }
        // What kind of change this is and what could go wrong, content that failed before above all.
        let risk = await self.risk(of: change, rules: rules)
        // The whole story of the change, from the one chain: every record that names it, oldest first.
        let timelineLimit = 400
        let story = (try? await offload { [instance = self.instance] in
            (try instance.store.records(matching: AuditQuery(changeID: change.id, limit: timelineLimit + 1)))
        }) ?? []
        let head = (try? await offload { [instance = self.instance] in try instance.store.records(matching: AuditQuery(limit: 1, keepNewest: true)).last }) ?? nil
        let last = story.count > timelineLimit ? (try? await offload { [instance = self.instance] in
            try instance.store.records(matching: AuditQuery(changeID: change.id, limit: 1, keepNewest: true)).last
        }) ?? nil : story.last
        let timeline: [[String: Any]] = story.prefix(timelineLimit).map { r in
            ConsoleViews.view([
                "sequence": String(r.sequence), "local": ConsoleViews.local(r.timestamp, zone: zone), "utc": ConsoleViews.utc(r.timestamp),
                "actor": r.actor.name, "actorID": r.actor.id, "authentication": r.actor.authentication, "action": r.action,
                "resource": r.resource, "failed": r.result != .success,
                "note": String((r.error ?? r.reason ?? r.details["summary"] ?? "").prefix(300)), "link": principal.mayReadAudit,
            ])
        }
        // A superseded change names its successor, and whether its signatures carried over to it or lapsed.
        let successor = supersededRecord?.details["supersededBy"]
        let carriedOver = supersededRecord?.details["carried"].map { ids in change.approvals.filter { ids.split(separator: ",").contains(Substring($0.approver.id)) }.map(\.approver.name) } ?? []
        let lapsed = supersededRecord?.details["lapsed"].map { ids in change.approvals.filter { ids.split(separator: ",").contains(Substring($0.approver.id)) }.map(\.approver.name) } ?? []
        let unknown = await agentPresence(site.map { [$0] } ?? [])[change.site]?.displayStatus(of: change)
        let data = ConsoleViews.view([
            "id": change.id, "status": unknown?.status ?? change.status.rawValue, "statusClass": unknown == nil ? ConsoleViews.statusClass(change.status) : "warn",
            "statusReason": unknown?.note ?? change.statusReason, "site": change.site, "siteName": site?.displayName ?? change.site,
            "timezone": site?.timezone ?? "UTC", "planId": change.plan.id, "planShort": change.plan.shortID, "summary": change.plan.summary,
            "commit": change.plan.commit.map { String($0.prefix(10)) }, "commitSummary": change.commitSummary, "author": change.author?.name,
            "createdLocal": ConsoleViews.local(change.createdAt, zone: zone), "createdUTC": ConsoleViews.utc(change.createdAt),
            "gate": change.gate.rawValue, "gates": gates, "ready": ready, "approvals": approvals, "hasApprovals": !approvals.isEmpty,
            "lastRecord": last.map { ["sequence": String($0.sequence), "hash": $0.hash] },
            "chainHead": head.map { ["sequence": String($0.sequence), "hash": $0.hash, "at": ConsoleViews.utc(instance.clock.now())] },
            "risk": risk.items.map { ConsoleViews.view(["level": $0.level.rawValue, "text": $0.text, "change": $0.change]) },
            "riskHeadline": risk.headline,
            "timeline": timeline, "hasTimeline": !timeline.isEmpty, "timelineMore": story.count > timelineLimit,
            "typedApprove": typed.flatMap { $0.approving ? $0.reason : nil }, "typedReject": typed.flatMap { $0.approving ? nil : $0.reason },
            "successor": successor, "carriedOver": carriedOver.isEmpty ? nil : carriedOver.joined(separator: ", "),
            "lapsed": lapsed.isEmpty ? nil : lapsed.joined(separator: ", "), "lapsedWhy": supersededRecord?.details["lapsedWhy"],
            "canSign": canApprove || canReject, "canApprove": canApprove, "canReject": canReject, "signNote": signNote,
            "signerName": principal.user.name, "csrf": principal.session?.csrfToken, "signError": signError,
            "approveMeaning": site.map { ApprovalRules.meaning(of: principal.user, site: $0, approving: true) },
            "rejectMeaning": site.map { ApprovalRules.meaning(of: principal.user, site: $0, approving: false) },
            "operations": operations,
            "target": site.map { instance.planning.absoluteTarget(of: $0) } ?? "(the site is no longer in the desired state)",
            "rulesFrom": rules.map(Self.rulesOrigin) ?? "",
            "hasRuleChanges": !change.ruleChanges.isEmpty, "ruleHeadline": RuleChange.headline(change.ruleChanges) ?? "",
            "ruleChanges": change.ruleChanges.map { ["field": $0.field, "old": $0.old, "new": $0.new] },
            "hasCommits": !change.commits.isEmpty, "allowAuthor": rules?.site.approval.allowAuthor ?? false,
            "commits": change.commits.map { c in
                ["id": String(c.id.prefix(10)), "summary": c.summary, "author": "\(c.author.name) <\(c.author.email ?? "")>",
                 "committer": "\(c.committer.name) <\(c.committer.email ?? "")>",
                 "brings": change.plan.operations.filter { $0.introducedBy == c.id }.map { "\($0.action.symbol)\($0.path)" }]
            },
            "affects": affects.isEmpty ? nil : affects.line, "owners": owners, "hasOwners": !owners.isEmpty,
        ])
        return views.page("change", title: change.id, data: data, principal: principal, flash: flash, nav: "Queue", status: status)
    }

    private func gate(_ name: String, open: Bool, _ text: String) -> [String: Any] {
        ["name": name, "text": text, "mark": open ? "✓" : "…", "stateClass": open ? "open" : "closed"]
    }

    // MARK: - Audit

    func auditPage(_ request: Request, _ context: ServerContext, flash: ConsoleViews.Flash?) async throws -> Response {
        let principal = try await requireAuditReader(context, path: request.uri.path)
        let fields = FormFields.query(request)
        let filter = AuditFilter(fields: fields)
        let query = try filter.query(defaultLimit: 100)
        let (records, total) = try await offload { [instance = self.instance] in (try instance.store.records(matching: query), try instance.store.count()) }
        let zones = Dictionary(uniqueKeysWithValues: (observations.loaded?.state.sites ?? []).map { ($0.name, $0.timeZone) })
        let rows: [[String: Any]] = records.reversed().map { r in
            let zone = r.details["timezone"].flatMap(TimeZone.init(identifier:)) ?? r.site.flatMap { zones[$0] ?? nil }
            return ConsoleViews.view([
                "sequence": String(r.sequence), "utc": ConsoleViews.utc(r.timestamp), "local": zone.map { ConsoleViews.local(r.timestamp, zone: $0) } ?? "–",
                "actor": "\(r.actor.name) (\(r.actor.id))", "role": r.actor.role, "authentication": r.actor.authentication,
                "action": r.action, "site": r.site ?? "–", "change": r.changeID, "plan": r.planID.map { String($0.dropFirst(7).prefix(12)) },
                "result": r.result.rawValue, "resultClass": r.result == .success ? "success" : "failure",
                "note": String((r.error ?? r.reason ?? r.details["meaning"] ?? "").prefix(200)),
            ])
        }
        let verify = observations.verify.map { v in
            ConsoleViews.view([
                "verifyClass": v.ok ? (v.anchored ? "ok" : "warn") : "bad",
                "verifyText": v.ok ? (v.anchored ? "verified, anchored" : "verified") : "FAILED: \(v.problemCount) problem(s)",
                "records": v.records, "head": String(v.headHash.prefix(16)) + "…", "at": ConsoleViews.utc(v.at), "firstProblem": v.firstProblem,
                "notes": v.notes, "hasNotes": !v.notes.isEmpty,
            ])
        }
        var data: [String: Any?] = [
            "records": rows, "hasRecords": !rows.isEmpty, "total": String(total), "shown": String(rows.count), "filter": query.summary,
            "exportQuery": filter.exportQuery, "verify": verify, "csrf": principal.session?.csrfToken,
            "categories": AuditCategory.allCases.map { ["name": $0.rawValue, "selected": $0.rawValue == fields.text("category")] },
        ]
        for key in ["site", "actor", "action", "change", "since", "until", "limit"] { data["f_" + key] = fields.text(key) }
        return views.page("audit", title: "Audit log", data: ConsoleViews.view(data), principal: principal, flash: flash, nav: "Audit")
    }
}
