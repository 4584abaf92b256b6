import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore
import Logging
import ServiceLifecycle

/// Tells people what happened. Every couple of seconds it
/// 1. turns the audit records written since its cursor into outbox entries (the cursor and the entries are stored in
///    one transaction that only succeeds from where the cursor was read, so with several replicas each record is
///    turned into notifications once);
/// 2. adds what it observes: a window coming up for a change still waiting for signatures, an agent gone silent, an
///    audit log that does not verify (each once, by its key);
/// 3. claims due entries and delivers them, recording each delivery (`notification.sent`) and each given-up one
///    (`notification.failed`) in the audit log. A failed attempt is retried with back-off.
public final class NotificationWorker: Service, Sendable {
    /// What a delivery needs that the configuration only points to: the SMTP password and the webhooks' secrets.
    public struct Secrets: Sendable {
        public var smtpPassword: String?
        public var webhookSecrets: [String: String]
        public init(smtpPassword: String? = nil, webhookSecrets: [String: String] = [:]) {
            self.smtpPassword = smtpPassword
            self.webhookSecrets = webhookSecrets
        }
    }

    let loop: ReconcileLoop
    let config: NotificationConfiguration
    let secrets: Secrets
    let logger: Logger
    let interval: Duration
    /// This replica, as claims name it.
    let owner: String
    let delivery: NotificationDelivery
    /// When conditions were last observed: reminders, agents and the verification change on a scale of minutes, and
    /// reading every waiting change is not free on a large fleet.
    let lastObserved = Locked<Date?>(nil)
    static let observeEvery: TimeInterval = 30

    public init(loop: ReconcileLoop, config: NotificationConfiguration, secrets: Secrets, logger: Logger, interval: Duration = .seconds(2)) {
        self.loop = loop
        self.config = config
        self.secrets = secrets
        self.logger = logger
        self.interval = interval
        self.owner = "\(ProcessInfo.processInfo.hostName)/\(getpid())/\(UUID().uuidString.prefix(8))"
        self.delivery = NotificationDelivery(config: config, secrets: secrets)
    }

    var store: any StateStore { loop.instance.store }

    public func run() async throws {
        logger.info("notifications: \(config.rules.count) rule(s), \(config.email.map { "SMTP \($0.host):\($0.port) (\($0.security.rawValue))" } ?? "no SMTP server"), \(config.webhooks.count) webhook(s)")
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await cycle(now: Date())
            try? await Task.sleep(for: interval)
        }
        logger.info("notifications stopped")
    }

    /// One round: derive, observe, deliver.
    func cycle(now: Date) async {
        do {
            try await offload { [self] in
                try derive(now: now)
                if lastObserved.current.map({ now.timeIntervalSince($0) >= Self.observeEvery }) ?? true {
                    try observe(now: now)
                    lastObserved.withLock { $0 = now }
                }
            }
        } catch {
            logger.error("notifications: \(error)")
        }
        await deliverDue(now: now)
    }

    func composer() -> NotificationComposer {
        let sites = loop.observations.loaded.map { Dictionary($0.state.sites.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }) } ?? [:]
        return NotificationComposer(config: config, users: loop.instance.configuration.users, sites: sites)
    }

    // MARK: - From the audit log

    /// Sets the cursor at the head of the audit log the first time notifications are configured (the history before is
    /// not sent). Called before the reconcile loop starts, so its first pass is notified.
    public func startCursor(now: Date = Date()) throws {
        guard try store.notificationCursor() == nil else { return }
        _ = try store.enqueueNotifications([], cursorFrom: nil, to: try store.head()?.sequence ?? 0, at: now)
    }

    /// Turns the records after the cursor (at most 200 a round) into outbox entries. The first time, the cursor starts
    /// at the head: the history before notifications were configured is not sent.
    func derive(now: Date) throws {
        guard let cursor = try store.notificationCursor() else {
            let head = try store.head()?.sequence ?? 0
            _ = try store.enqueueNotifications([], cursorFrom: nil, to: head, at: now)
            return
        }
        // Recipients and texts need the desired state (the sites' approvers, their names, the waves): the records wait
        // for it behind the cursor.
        guard loop.observations.loaded != nil else { return }
        let records = try store.records(matching: AuditQuery(sequences: (cursor + 1)...Int64.max, limit: 200))
        guard let last = records.last?.sequence else { return }
        let composer = composer()
        var items: [NewNotification] = []
        var changes: [String: ChangeRequest?] = [:]
        for record in records {
            let change: ChangeRequest? = try record.changeID.flatMap { id in
                if let known = changes[id] { return known }
                let found = try store.change(id: id)
                changes[id] = found
                return found
            }
            for occasion in occasions(from: record, change: change) {
                items += composer.notifications(for: occasion)
            }
        }
        if try !store.enqueueNotifications(items, cursorFrom: cursor, to: last, at: now) {
            logger.debug("notifications: another replica took records \(cursor + 1)…\(last)")
        }
    }

    /// What one audit record tells people, if anything.
    func occasions(from record: AuditRecord, change: ChangeRequest?) -> [NotificationOccasion] {
        let state = loop.observations.loaded?.state
        let site = record.site.flatMap { name in state?.site(named: name) }
        let siteName = site?.displayName ?? record.site
        let zone = site?.timeZone
        func occasion(_ event: NotificationConfiguration.Event, _ title: String, severity: NotificationOccasion.Severity = .info,
                      extra: [(String, String)] = []) -> NotificationOccasion {
            var facts: [(name: String, value: String)] = []
            if let name = record.site { facts.append(("Site", siteName.map { $0 == name ? name : "\($0) (\(name))" } ?? name)) }
            if let change {
                facts.append(("Change", "\(change.id): plan \(change.plan.shortID) \(change.plan.summary), gate \(change.gate.rawValue)"))
                if let commit = change.plan.commit {
                    facts.append(("Commit", "\(commit.prefix(10)) \(change.commitSummary ?? "")" + (change.author.map { " (by \($0.name))" } ?? "")))
                }
                var affects = Affects()
                var owners: [String] = []
                for op in change.plan.operations {
                    guard let about = op.about else { continue }
                    affects = affects.union(about.affects)
                    if let owner = about.owner, let component = about.component, !owners.contains(where: { $0.hasPrefix(component + ":") }) {
                        owners.append("\(component): \(owner.line)")
                    }
                }
                if !affects.isEmpty { facts.append(("Affects", affects.line)) }
                for owner in owners { facts.append(("Accountable", owner)) }
            }
            facts += extra.map { (name: $0.0, value: $0.1) }
            facts.append(("When", "\(ConsoleViews.local(record.timestamp, zone: zone)) (\(ConsoleViews.utc(record.timestamp)))"))
            var result = NotificationOccasion(
                event: event, key: "record/\(record.sequence)", site: record.site, siteName: siteName, changeID: record.changeID,
                title: title, facts: facts, path: record.changeID.map { "/changes/\($0)" } ?? "/audit/records/\(record.sequence)",
                at: record.timestamp, severity: severity, sequence: record.sequence)
            if let change {
                result.signedBy = Set(change.approvals.filter { $0.planID == change.plan.id }.map(\.approver.id))
                result.ownerAddresses = Array(Set(change.plan.operations.compactMap { $0.about?.owner?.contact }.flatMap(NotificationComposer.addresses))).sorted()
            }
            return result
        }
        let id = record.changeID ?? "a change"
        let at = siteName ?? "the site"
        switch record.action {
        case "change.queued":
            // Only while it still waits (records read late — a restart, a re-enabled section — ask nobody for old work).
            guard let change, change.gate.rawValue.contains("approval"), change.status == .waiting || change.status == .ready else { return [] }
            var extra: [(String, String)] = []
            if let site {
                extra.append(("Signatures", "\(site.approval.required) needed" + (site.approval.approvers.isEmpty ? "" : " from \(site.approval.approvers.joined(separator: ", "))")))
                // The gate clock (simulated in a rehearsal) decides windows.
                if let next = MaintenanceSchedule(site: site)?.nextOpening(after: loop.instance.clock.now()) {
                    extra.append(("Next window", "\(next.window): \(ConsoleViews.local(next.start, zone: zone)) (\(ConsoleViews.utc(next.start)))"))
                }
            }
            return [occasion(.approvalNeeded, "\(id) at \(at) waits for your signature", extra: extra)]
        case "gate.opened":
            guard let window = record.details["window"], window != "not required" else { return [] }
            return [occasion(.windowOpened, "\(id) at \(at) is approved and its window is open: it is applied now", extra: [("Window", window)])]
        case "apply.succeeded":
            return [occasion(.applied, "\(id) was applied at \(at)")]
        case "rollback.completed":
            var result = [occasion(.rolledBack, "\(id) failed at \(at) and was rolled back", severity: .warning,
                                   extra: [("Reason", change?.statusReason ?? record.reason ?? "not recorded")])]
            if let state, state.config.wavesDeclared, let name = record.site,
               let index = state.config.waves.firstIndex(where: { $0.sites.contains(name) }), index < state.config.waves.count - 1 {
                let later = state.config.waves[(index + 1)...].map(\.name).joined(separator: ", ")
                var halted = occasion(.rolloutHalted, "The rollout of commit \(record.commit.map { String($0.prefix(10)) } ?? "?") halts after \(at) rolled back",
                                      severity: .warning, extra: [("Waiting waves", later), ("To go on", "a rollout owner resumes or skips (console: Rollout)")])
                halted.path = "/rollout"
                result.append(halted)
            }
            return result
        case "rollback.failed":
            return [occasion(.failed, "\(id) failed at \(at) and could not be rolled back", severity: .critical,
                             extra: [("Error", record.error ?? "not recorded"), ("The site holds", "what the change's apply records say; see the change page")])]
        case "drift.detected":
            return [occasion(.drift, "\(record.resource ?? "A resource") at \(at) was changed outside Interlock", severity: .warning,
                             extra: [("Found", record.details["summary"] ?? "\(record.before ?? "?") → \(record.after ?? "?")")])]
        case "notification.failed":
            guard record.details["event"] != NotificationConfiguration.Event.deliveryFailed.rawValue else { return [] }
            var failed = occasion(.deliveryFailed, "A notification (\(record.details["event"] ?? "?")) to \(record.details["recipient"] ?? "?") could not be delivered",
                                  severity: .warning, extra: [("Error", record.error ?? "not recorded"), ("Attempts", record.details["attempts"] ?? "?")])
            failed.path = "/notifications"
            return [failed]
        default:
            return []
        }
    }

    // MARK: - Observed conditions

    /// Reminders before a window, agents gone silent, a failed verification: queued once each, by their key.
    func observe(now: Date) throws {
        let cursor = try store.notificationCursor()
        guard cursor != nil else { return }
        let composer = composer()
        var occasions: [NotificationOccasion] = []
        let state = loop.observations.loaded?.state
        let gateNow = loop.instance.clock.now()
        if let state {
            // Reminders: a change still short of signatures whose site's next window opens within `remindBefore`.
            let waiting = try store.changes(sites: [], statuses: [.waiting], limit: 500)
            for change in waiting where change.gate.rawValue.contains("approval") {
                guard let site = state.site(named: change.site), let schedule = MaintenanceSchedule(site: site),
                      let next = schedule.nextOpening(after: gateNow) else { continue }
                let signed = Set(change.approvals.filter { $0.planID == change.plan.id }.map(\.approver.id))
                guard signed.count < site.approval.required, next.start.timeIntervalSince(gateNow) <= Double(config.remindBefore.seconds) else { continue }
                let zone = site.timeZone
                occasions.append(NotificationOccasion(
                    event: .approvalNeeded, key: "reminder/\(change.id)/\(change.plan.shortID)/\(AuditTimestamp.format(next.start))", site: site.name,
                    siteName: site.displayName, changeID: change.id,
                    title: "Reminder: \(change.id) at \(site.displayName) still waits for your signature; the window opens \(ConsoleViews.local(next.start, zone: zone))",
                    facts: [("Site", "\(site.displayName) (\(site.name))"), ("Change", "\(change.id): plan \(change.plan.shortID) \(change.plan.summary)"),
                            ("Window", "\(next.window): \(ConsoleViews.local(next.start, zone: zone)) (\(ConsoleViews.utc(next.start)))"),
                            ("Signatures", "\(signed.count) of \(site.approval.required)")],
                    path: "/changes/\(change.id)", at: now, severity: .info, signedBy: signed))
            }
            // Agents: a site reached through its agent that has gone silent, once per last contact.
            let agentSites = state.sites.filter { $0.reach == .agent }
            if !agentSites.isEmpty {
                let certificates = try store.certificates(site: nil)
                for site in agentSites {
                    let presence = AgentPresence.of(site: site.name, certificates: certificates, now: now)
                    guard presence.state == .offline, let contact = presence.lastContact else { continue }
                    occasions.append(NotificationOccasion(
                        event: .agentOffline, key: "agent-offline/\(site.name)/\(Int(contact.timeIntervalSince1970))", site: site.name,
                        siteName: site.displayName, changeID: nil, title: "The agent of \(site.displayName) is offline",
                        facts: [("Site", "\(site.displayName) (\(site.name))"), ("Agent", presence.text(now: now))],
                        path: "/sites", at: now, severity: .warning))
                }
            }
        }
        // The audit log: once per head and problem count (it does not heal by itself).
        if let verify = loop.observations.verify, !verify.ok {
            occasions.append(NotificationOccasion(
                event: .auditVerificationFailed, key: "audit-verify/\(verify.problemCount)/\(Resource.hash(Data((verify.firstProblem ?? "").utf8)).suffix(16))", site: nil, siteName: nil,
                changeID: nil, title: "The audit log does not verify: \(verify.problemCount) problem(s)",
                facts: [("First problem", verify.firstProblem ?? "not given"), ("Records", String(verify.records)),
                        ("Checked", "\(ConsoleViews.utc(verify.at))"), ("To do", "run 'interlock audit verify' and compare with the last published checkpoint")],
                path: "/audit", at: now, severity: .critical))
        }
        let items = occasions.flatMap { composer.notifications(for: $0) }
        guard !items.isEmpty else { return }
        // The cursor stays where it is: only the entries are added (their keys make them once).
        _ = try store.enqueueNotifications(items, cursorFrom: cursor, to: cursor, at: now)
    }

    // MARK: - Delivery

    /// How long a claim holds: longer than one delivery can take (an SMTP connection is closed after 150 s at most,
    /// a webhook after 20 s), so no other replica takes a message while it is being sent.
    static let claimSeconds: TimeInterval = 300

    /// Claims due entries one at a time, just before delivering each, at most 20 a round.
    func deliverDue(now: Date) async {
        for _ in 0..<20 {
            let claimedAt = Date()
            let claimed: [OutboxNotification]
            do {
                claimed = try await offload { [self] in
                    try store.claimNotifications(owner: owner, now: claimedAt, until: claimedAt.addingTimeInterval(Self.claimSeconds), limit: 1)
                }
            } catch {
                logger.error("notifications: cannot claim: \(error)")
                return
            }
            guard let item = claimed.first else { return }
            await deliver(item)
        }
    }

    /// One attempt, and its outcome recorded (the error kept to 500 characters).
    func deliver(_ item: OutboxNotification) async {
        let result = await delivery.deliver(item).mapError { NotificationDelivery.Failure(message: String($0.message.prefix(500))) }
        let finished = Date()
        var details = ["event": item.event, "channel": item.channel, "recipient": item.recipient, "attempts": String(item.attempts),
                       "notification": String(item.id), "key": item.key]
        if let note = item.lastError, note.contains("interrupted") { details["repeatOf"] = "an interrupted attempt: it may have been delivered twice" }
        let outcome: DeliveryOutcome
        var entries: [AuditEntry] = []
        let actor = AuditActor(id: "interlock", name: "Interlock", role: "notifier", authentication: "system")
        switch result {
        case .success:
            outcome = .sent
            entries.append(AuditEntry(actor: actor, category: .system, action: "notification.sent", site: item.site, changeID: item.changeID,
                                      details: details))
        case .failure(let error):
            loop.metrics.recordNotificationFailure(channel: item.channel, final: item.attempts >= config.maxAttempts)
            if item.attempts >= config.maxAttempts {
                outcome = .failed(error: error.message)
                entries.append(AuditEntry(actor: actor, category: .system, action: "notification.failed", site: item.site, changeID: item.changeID,
                                          result: .failure, error: String(error.message.prefix(500)), details: details))
                logger.error("notifications: gave up \(item.event) to \(item.recipient) after \(item.attempts) attempt(s): \(error.message)")
            } else {
                let at = finished.addingTimeInterval(Self.retryDelay(config: config, attempts: item.attempts))
                outcome = .retry(at: at, error: error.message)
                logger.warning("notifications: \(item.event) to \(item.recipient) failed (attempt \(item.attempts) of \(config.maxAttempts)), retrying at \(AuditTimestamp.format(at)): \(error.message)")
            }
        }
        do {
            let kept = try await offload { [self, entries] in
                try store.finishNotification(id: item.id, owner: owner, outcome: outcome, at: finished, entries: entries)
            }
            if !kept { logger.warning("notifications: the claim on notification \(item.id) expired before its outcome was recorded") }
        } catch {
            logger.error("notifications: cannot record the outcome of notification \(item.id): \(error)")
        }

    }

    /// The pause after the `attempts`-th failed attempt: `firstRetry` doubling, at most an hour.
    static func retryDelay(config: NotificationConfiguration, attempts: Int) -> TimeInterval {
        min(3600, Double(config.firstRetry.seconds) * pow(2, Double(max(0, attempts - 1))))
    }
}
