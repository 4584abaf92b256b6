import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import InterlockEngine
import InterlockModel
import InterlockStore

/// `/healthz`, `/readyz`, `/metrics` and the stylesheet.
extension WebServer {
    func addOperationalRoutes(_ router: Router<ServerContext>) {
        router.get("/healthz") { _, _ in Responses.json(.object(["status": .string("ok")])) }
        router.get("/readyz") { _, _ in
            let observations = self.observations
            // The state database must answer now: a replica that lost it cannot approve or apply anything.
            let databaseError: String? = try await offload { [store = self.instance.store] in
                do {
                    try store.ping()
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            let ready = observations.loaded != nil && observations.passes > 0 && databaseError == nil
            let status = databaseError != nil ? "database unreachable" : ready ? "ready" : "starting"
            var object: [String: Value] = [
                "status": .string(status), "passes": .int(observations.passes), "passesGaveWay": .int(observations.passesGaveWay),
                "passRunning": .bool(observations.passRunning), "database": .string(databaseError ?? "ok"),
                "lastPass": observations.lastPass.map(JSONShapes.time) ?? .null,
                "lastPassError": JSONShapes.optional(observations.lastPassError),
            ]
            if let error = observations.loadError { object["desiredStateError"] = .string(error) }
            return Responses.json(.object(object), status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, context in
            _ = try context.requirePrincipal()
            let text = try await offload { [instance = self.instance, observations = self.observations, metrics = self.metrics] in try metrics.render(instance: instance, observations: observations) }
            return Responses.text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/static/console.css") { _, _ in Responses.text(Stylesheet.css, contentType: "text/css; charset=utf-8") }
        router.post("/api/v1/hooks/git") { request, context in try await self.gitWebhook(request, context) }
    }

    /// A push from the git host: verified by the host's own scheme, then a fetch and a pass at once (a burst of
    /// pushes runs one pass, and one more if pushes arrive during it). Refusals are audited (the first of a caller
    /// in a window, the repeats counted); accepted pushes are recorded as `webhook.push`.
    func gitWebhook(_ request: Request, _ context: ServerContext) async throws -> Response {
        guard instance.configuration.gitWebhook != nil else {
            throw ServerError(.notFound, "push webhooks are not configured (webhooks.git in the instance configuration)")
        }
        guard let secret = webhookSecret else {
            // The reason (a file's path, its mode) is in the server's log, not in an answer to a stranger.
            throw ServerError(.serviceUnavailable, "push webhooks are not available: the service's webhook secret is not usable (see its log)")
        }
        let delivery = GitWebhooks.delivery(request.headers)
        func refuse(_ refusal: GitWebhooks.Refusal, status: HTTPResponse.Status) async throws -> Never {
            metrics.recordWebhook("refused")
            try await auditFailure(action: "webhook.refused", subject: "webhook@" + context.remoteAddress, address: context.remoteAddress, AuditEvent(
                actor: Person(id: "unknown", name: "unauthenticated webhook caller"), role: "unauthenticated",
                authentication: refusal.provider == .gitlab ? "webhook-token" : "webhook-hmac-sha256", category: .access,
                action: "webhook.refused", success: false, error: refusal.message,
                details: ["remoteAddress": context.remoteAddress, "provider": refusal.provider?.rawValue ?? "unknown", "delivery": delivery ?? ""]))
            throw ServerError(status, refusal.message)
        }
        // Without a host's event header there is nothing to verify: refused before the body is read.
        guard GitWebhooks.hasEventHeader(request.headers) else {
            try await refuse(GitWebhooks.Refusal(message: "not a push webhook of GitHub, GitLab, Gitea, Forgejo or Bitbucket (no event header)", provider: nil),
                             status: .unauthorized)
        }
        let body = Array(buffer: try await FormFields.collectBody(request, limit: GitWebhooks.maximumBody))
        let provider: GitWebhooks.Provider, event: String
        switch GitWebhooks.verify(headers: request.headers, body: body, secret: secret) {
        case .failure(let refusal): try await refuse(refusal, status: .unauthorized)
        case .success(let verified): (provider, event) = verified
        }
        let outcome: GitWebhooks.Outcome
        switch GitWebhooks.interpret(provider: provider, event: event, body: body, branch: webhookBranch,
                                     repository: instance.configuration.gitWebhook?.repository) {
        case .failure(let refusal): throw ServerError(.badRequest, refusal.message)
        case .success(let value): outcome = value
        }
        switch outcome {
        case .ignored(let why):
            metrics.recordWebhook("ignored")
            return Responses.json(.object(["status": .string("ignored"), "reason": .string(why)]), status: .accepted)
        case .push(var push):
            push.delivery = delivery
            // The same signed body again (a host's redelivery, or a replay): one record per body in a window, the
            // repeats counted; the pass it asks for is coalesced with any other.
            let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
            let (decision, due) = webhookRepeats.note(action: "webhook.push", subject: digest, address: context.remoteAddress, now: Date())
            var events = due.map { counted in
                AuditEvent(actor: Person(id: "webhook:\(push.provider.rawValue)", name: "\(push.provider.rawValue) push webhook"), role: "git host",
                           authentication: push.provider == .gitlab ? "webhook-token" : "webhook-hmac-sha256", category: .system,
                           action: "webhook.push.repeated", reason: "the same signed push was delivered \(counted.count) more time(s) after the first was recorded",
                           details: ["bodySHA256": counted.key.subject, "count": String(counted.count), "remoteAddress": counted.address,
                                     "from": AuditTimestamp.format(counted.started), "to": AuditTimestamp.format(counted.last)])
            }
            if decision == .record {
                // What the host says (provider, event and ids are the host's claims; the signature covers the body):
                // the commit is the one the fetch finds, recorded by the pass, not this claim.
                var details = ["provider": push.provider.rawValue, "repository": push.repository, "ref": push.ref, "delivery": push.delivery ?? "",
                               "remoteAddress": context.remoteAddress, "bodySHA256": digest]
                if let after = push.after { details["claimedAfter"] = after }
                events.append(AuditEvent(
                    actor: Person(id: "webhook:\(push.provider.rawValue)", name: "\(push.provider.rawValue) push webhook"), role: "git host",
                    authentication: push.provider == .gitlab ? "webhook-token" : "webhook-hmac-sha256", category: .system, action: "webhook.push",
                    reason: "a signed push to \(push.ref) of \(push.repository): fetch and plan at once", details: details))
            }
            if !events.isEmpty {
                let instance = self.instance
                try await offload { [events] in
                    try instance.store.record(events)
                    instance.checkpoint()
                }
            }
            // A repeated body asks for a pass, but does not make the pass under way give way.
            if decision == .record { loop.pushed(after: push.after) } else { loop.trigger() }
            metrics.recordWebhook(decision == .record ? "accepted" : "repeated")
            return Responses.json(.object(["status": .string("accepted"), "ref": .string(push.ref), "commit": JSONShapes.optional(push.after)]), status: .accepted)
        }
    }
}

/// The JSON API under `/api/v1`, described in `docs/openapi.yaml`.
extension WebServer {
    func addAPIRoutes(_ router: Router<ServerContext>) {
        let api = router.group("/api/v1")
        api.get("me") { _, context in
            let principal = try context.requirePrincipal()
            return Responses.json(JSONShapes.user(principal.user, authentication: principal.authentication))
        }
        api.get("sites") { _, context in
            _ = try context.requirePrincipal()
            let loaded = try await self.currentState()
            let now = self.instance.clock.now()
            let active = try await self.activeChanges()
            return Responses.json(.object([
                "commit": JSONShapes.optional(loaded.commitID), "now": JSONShapes.time(now),
                "sites": .array(loaded.state.sites.map { .object(self.siteJSON($0, state: loaded.state, now: now, active: active[$0.name] ?? [])) }),
            ]))
        }
        api.get("sites/:site") { _, context in
            _ = try context.requirePrincipal()
            let name = try context.parameters.require("site")
            let loaded = try await self.currentState()
            guard let site = loaded.state.site(named: name) else { throw ServerError(.notFound, "there is no site \(name)") }
            let active = try await self.activeChanges()
            return Responses.json(.object(self.siteJSON(site, state: loaded.state, now: self.instance.clock.now(), active: active[name] ?? [])))
        }
        api.get("status") { _, context in
            _ = try context.requirePrincipal()
            let loaded = try await self.currentState()
            return Responses.json(.object([
                "commit": JSONShapes.optional(loaded.commitID),
                "sites": .array(loaded.state.sites.map { site in
                    let observation = self.observations.site(site.name)
                    var entry: [String: Value] = [
                        "site": .string(site.name), "status": .string(observation?.condition.rawValue ?? "unknown"),
                        "drift": .array((observation?.drift ?? []).map(JSONShapes.drift)),
                        "observedAt": observation.map { JSONShapes.time($0.observedAt) } ?? .null,
                    ]
                    if let plan = observation?.pendingPlan {
                        entry["pending"] = .object(["create": .int(plan.count(.create)), "update": .int(plan.count(.update)), "delete": .int(plan.count(.delete))])
                        entry["planId"] = .string(plan.id)
                    }
                    if let problem = observation?.problem { entry["error"] = .string(problem) }
                    if let observation { entry["managedResources"] = .int(observation.managedResources) }
                    return .object(entry)
                }),
            ]))
        }
        api.get("queue") { request, context in
            _ = try context.requirePrincipal()
            let fields = FormFields.query(request)
            let all = fields.text("all").map { $0 == "1" || $0 == "true" } ?? false
            let sites = fields.text("site").map { [$0] } ?? []
            let loaded = try await self.currentState()
            let changes = try await offload { [instance = self.instance] in
                try instance.store.changes(sites: sites, statuses: all ? [] : ChangeStatus.active, limit: all ? 50 : nil)
            }
            let now = self.instance.clock.now()
            return Responses.json(.object(["now": JSONShapes.time(now), "changes": .array(changes.map { change in
                var object = JSONShapes.change(change)
                if let site = loaded.state.site(named: change.site), change.status.isActive {
                    object["gates"] = JSONShapes.gates(self.gates(change, site: site, state: loaded.state, at: now))
                }
                return .object(object)
            })]))
        }
        api.get("rollout") { request, context in
            _ = try context.requirePrincipal()
            let limit = FormFields.query(request).text("commits").flatMap(Int.init) ?? 3
            let overview = try await self.rolloutOverview(limit: max(1, min(limit, 20)))
            return Responses.json(.object(["now": JSONShapes.time(self.instance.clock.now()), "commits": overview.json]))
        }
        api.get("changes/:id") { _, context in
            let principal = try context.requirePrincipal()
            let (change, site) = try await self.change(try context.parameters.require("id"))
            var object = JSONShapes.change(change)
            object["plan"] = JSONShapes.plan(change.plan)
            if let site {
                if change.status == .waiting || change.status == .ready, let state = self.observations.loaded?.state {
                    object["gates"] = JSONShapes.gates(self.gates(change, site: site, state: state, at: self.instance.clock.now()))
                }
                object["timezone"] = .string(site.timezone)
                object["target"] = .string(self.instance.planning.absoluteTarget(of: site))
                object["rulesFrom"] = .string(Self.rulesOrigin(self.rules(for: site)))
            }
            // A carried signature was given (and authenticated) on the change it came from.
            let signedOn = Set([change.id] + change.approvals.compactMap(\.carriedFromChange)).sorted()
            let signatures = (try? await offload { [instance = self.instance] in
                try signedOn.flatMap { try instance.store.records(matching: AuditQuery(action: .exact("change.approved"), changeID: $0)) }
            }) ?? []
            object["signatures"] = .array(signatures.map { record in
                .object(["approver": .string(record.actor.id), "name": .string(record.actor.name), "authentication": .string(record.actor.authentication),
                         "planId": record.planID.map(Value.string) ?? .null, "at": JSONShapes.time(record.timestamp)])
            })
            let risk = await self.risk(of: change, rules: site.map { self.rules(for: $0) })
            object["risk"] = .array(risk.items.map { item in
                .object(["level": .string(item.level.rawValue), "text": .string(item.text), "change": JSONShapes.optional(item.change)])
            })
            let users = self.instance.configuration.users
            object["mayApprove"] = .bool(site.map { ChangeSigning.mayShowForm(userID: principal.user.id, approving: true, change: change, rules: self.rules(for: $0), users: users) } ?? false)
            object["mayReject"] = .bool(site.map { ChangeSigning.mayShowForm(userID: principal.user.id, approving: false, change: change, rules: self.rules(for: $0), users: users) } ?? false)
            return Responses.json(.object(object))
        }
        for approving in [true, false] {
            api.post("changes/:id/\(approving ? "approve" : "reject")") { request, context in
                let principal = try context.requirePrincipal()
                try await self.checkCSRF(principal, token: request.headers[Self.csrfHeader], path: request.uri.path, address: context.remoteAddress)
                let body = try await FormFields.collectBody(request, limit: 64 * 1024)
                let input = (try? JSONDecoder().decode(SignatureInput.self, from: Data(buffer: body)))
                guard let input else { throw ServerError(.badRequest, "send JSON: {\"password\": …, \"reason\": …, \"plan\": optional plan id}") }
                let signed = try await self.sign(
                    changeID: try context.parameters.require("id"), approving: approving, reason: input.reason?.trimmingCharacters(in: .whitespacesAndNewlines),
                    password: input.password, plan: input.plan, principal: principal, address: context.remoteAddress)
                return Responses.json(.object([
                    "change": .object(JSONShapes.change(signed.change)), "meaning": .string(signed.meaning), "signedBy": .string(signed.signer.name),
                    "gates": signed.gates.map(JSONShapes.gates) ?? .null, "notes": .array(signed.notes.map(Value.string)),
                ]))
            }
        }
        api.get("audit") { request, context in
            let principal = try await self.requireAuditReader(context, path: request.uri.path)
            _ = principal
            let query = try AuditFilter(fields: FormFields.query(request)).query(defaultLimit: 100)
            let (records, total) = try await offload { [instance = self.instance] in (try instance.store.records(matching: query), try instance.store.count()) }
            return Responses.json(.object(["filter": .string(query.summary), "records": .array(records.map(JSONShapes.record)), "logSize": .int(Int(total))]))
        }
        api.get("audit/export") { request, context in try await self.export(request, context) }
        api.get("audit/verify") { request, context in
            _ = try await self.requireAuditReader(context, path: request.uri.path)
            let (result, path) = try await offload { [loop = self.loop, instance = self.instance] in (try loop.verifyAuditLog(), instance.store.location) }
            return Responses.json(JSONShapes.verification(result, subject: path))
        }
        api.post("reconcile") { request, context in
            let principal = try context.requirePrincipal()
            guard principal.mayOperate else {
                throw await self.denied(principal, "only operators and admins start a reconcile pass", path: request.uri.path, address: context.remoteAddress)
            }
            try await self.checkCSRF(principal, token: request.headers[Self.csrfHeader], path: request.uri.path, address: context.remoteAddress)
            self.loop.trigger()
            return Responses.json(.object(["status": .string("triggered")]), status: .accepted)
        }
    }

    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// The rollout of the newest commits at the current desired state.
    func rolloutOverview(limit: Int) async throws -> RolloutOverview {
        let loaded = try await currentState()
        return try await offload { [instance = self.instance] in
            let graph = instance.rollout?(loaded.state).graph ?? FlatCommitGraph()
            return try RolloutOverview.build(
                store: instance.store, reconciler: instance.reconciler(loaded.state), graph: graph, state: loaded.state,
                head: loaded.commitID, limit: limit, now: instance.clock.now())
        }
    }

    /// A change's gates now, its rollout wave included (as `interlock queue` evaluates them).
    /// The wave state (which may plan earlier-wave sites) is computed once per change and reconcile pass.
    func gates(_ change: ChangeRequest, site: Site, state: DesiredState, at now: Date) -> GateStatus {
        let key = "\(change.id)|\(change.updatedAt.timeIntervalSince1970)|\(change.approvals.count)"
        let pass = observations.passes
        let cached = waveCache.withLock { cache -> WaveState?? in
            if cache.pass != pass { cache = (pass, [:]) }
            return cache.states[key]
        }
        let wave: WaveState?
        if let cached {
            wave = cached
        } else {
            wave = (try? instance.reconciler(state).waveState(of: change, site: site, state: state)) ?? nil
            waveCache.withLock { $0.states[key] = .some(wave) }
        }
        return GateEvaluator.evaluate(change, rules: rules(for: site), at: now, wave: wave)
    }

    /// The gate rules of a site: what was last applied there, tightened by the current commit. When the store cannot
    /// be read, the strictest rules (every change waits for approval and a window).
    func rules(for site: Site) -> GateRules {
        (try? GateRules.resolve(site, proposedConfig: observations.loaded?.state.config, store: instance.store))
            ?? GateRules.combine(proposed: site, baseline: nil, unrecordedHistory: true)
    }

    struct SignatureInput: Decodable {
        var password: String?
        var reason: String?
        var plan: String?
    }

    func requireAuditReader(_ context: ServerContext, path: String) async throws -> Principal {
        let principal = try context.requirePrincipal()
        guard principal.mayReadAudit else {
            throw await denied(principal, "the audit log is for auditors, operators and admins", path: path, address: context.remoteAddress)
        }
        return principal
    }

    /// The change and its site in the current desired state (nil when the site was removed).
    func change(_ id: String) async throws -> (ChangeRequest, Site?) {
        let loaded = try await currentState()
        guard let change = try await offload({ [instance = self.instance] in try instance.store.change(id: id) }) else {
            throw ServerError(.notFound, "there is no change \(id)")
        }
        return (change, loaded.state.site(named: change.site))
    }

    func activeChanges() async throws -> [String: [ChangeRequest]] {
        let changes = try await offload { [instance = self.instance] in try instance.store.changes(sites: [], statuses: ChangeStatus.active, limit: nil) }
        return Dictionary(grouping: changes, by: \.site)
    }

    /// One site for the API: what `interlock sites` and `interlock status` say, and its next window in plant time.
    func siteJSON(_ site: Site, state: DesiredState, now: Date, active: [ChangeRequest]) -> [String: Value] {
        let waves = state.config.wavesDeclared ? state.config.waves : []
        let schedule = MaintenanceSchedule(site: site)
        let window = schedule?.windowGate(at: now, minimumRemaining: site.minimumWindowRemaining) ?? .noWindows
        let freeze = schedule?.freezeState(at: now) ?? .notFrozen
        let observation = observations.site(site.name)
        var object: [String: Value] = [
            "name": .string(site.name), "displayName": .string(site.displayName), "timezone": .string(site.timezone),
            "localTime": .string(ConsoleViews.local(now, zone: site.timeZone)),
            "wave": waves.first { $0.sites.contains(site.name) }.map { .string($0.name) } ?? .null,
            "driver": .string(site.target.driverName), "target": .string(site.targetDescription), "reach": .string(site.reach.rawValue),
            "components": .array(site.components.map(Value.string)), "flows": .array(site.flows.map(Value.string)),
            "windows": .array(site.windows.map { .object(["name": .string($0.name), "start": .string($0.start.source), "duration": .string($0.duration.description)]) }),
            "window": .object(["open": .bool(window.allowsStart), "text": .string("\(window)")]),
            "freeze": freeze.isFrozen ? .string("\(freeze)") : .null,
            "status": .string(observation?.condition.rawValue ?? "unknown"),
            "drift": .array((observation?.drift ?? []).map(JSONShapes.drift)),
            "activeChanges": .array(active.map { .object(["id": .string($0.id), "status": .string($0.status.rawValue)]) }),
            "approval": .object(["required": .int(site.approval.required), "approvers": .array(site.approval.approvers.map(Value.string))]),
            "lastSuccessfulReconcile": observation?.lastSuccessfulReconcile.map(JSONShapes.time) ?? .null,
        ]
        if let problem = observation?.problem { object["error"] = .string(problem) }
        return object
    }

    /// `GET /audit/export` and `/api/v1/audit/export`: the matching records and every checkpoint, as CSV or
    /// JSON Lines (the format of `interlock audit export`); the export itself is audited.
    func export(_ request: Request, _ context: ServerContext) async throws -> Response {
        let principal = try await requireAuditReader(context, path: request.uri.path)
        let fields = FormFields.query(request)
        guard let format = AuditExportFormat(rawValue: (fields.text("format") ?? "").lowercased()) else {
            throw ServerError(.badRequest, "format must be csv or jsonl")
        }
        let query = try AuditFilter(fields: fields).query(defaultLimit: nil)
        let instance = self.instance
        let (data, count) = try await offload {
            let path = NSTemporaryDirectory() + "interlock-export-\(UUID().uuidString).\(format.rawValue)"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let count = try instance.store.export(matching: query, format: format, to: path)
            return (try Data(contentsOf: URL(fileURLWithPath: path)), count)
        }
        let entry = AuditEntry(
            actor: AuditActor(id: principal.user.id, name: principal.user.name, role: principal.user.title, authentication: principal.auditAuthentication),
            category: .auditLog, action: "audit.exported",
            details: ["format": format.rawValue, "filter": query.summary, "records": String(count), "file": "download", "remoteAddress": context.remoteAddress])
        _ = try await offload { try instance.store.append(entry) }
        let stamp = ConsoleViews.utc(instance.clock.now()).replacingOccurrences(of: " ", with: "T").replacingOccurrences(of: ":", with: "")
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        response.headers[.contentType] = format == .csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8"
        response.headers[.contentDisposition] = "attachment; filename=\"interlock-audit-\(stamp).\(format.rawValue)\""
        return response
    }
}
