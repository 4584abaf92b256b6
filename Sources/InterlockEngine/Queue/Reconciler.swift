import Foundation
import InterlockModel

/// One reconcile pass: plan every site at a commit, queue non-empty plans as change requests
/// (superseding waiting ones with a different plan), and move changes between waiting and ready as
/// their gates open and close. Nothing is applied here.
public struct Reconciler: Sendable {
    public var planning: SitePlanning
    public var store: any ChangeStore
    public var clock: any InterlockClock
    /// The rollout waves to respect; nil: none.
    public var rollout: RolloutContext?
    /// The users of the trusted instance configuration: a signature carries over to a plan that differs only by its
    /// commit only if its signer may still sign the new change. Nil: signatures never carry over.
    public var signers: [InstanceConfiguration.User]?

    public init(planning: SitePlanning, store: any ChangeStore, clock: any InterlockClock, rollout: RolloutContext? = nil,
                signers: [InstanceConfiguration.User]? = nil) {
        self.planning = planning
        self.store = store
        self.clock = clock
        self.rollout = rollout
        self.signers = signers
    }

    /// What the pass did at one site.
    public struct SiteReport: Sendable {
        public var site: String
        public var condition: SiteCondition
        /// The site's active change after the pass, if any. Its plan's operations carry no file contents (a pass
        /// over a fleet's first deployment would otherwise hold every file); the change in the store has them.
        public var change: ChangeRequest?
        public var gates: GateStatus?
        /// Human-readable notes: queued, superseded, gate opened, unreachable …
        public var notes: [String]
    }

    /// The commit being reconciled, as the queue records it.
    public struct CommitContext: Sendable {
        public var author: Person?
        public var summary: String?
        /// The commit's id, and the history it is part of (for the commits a change carries).
        public var id: String?
        public var history: (any CommitHistory)?
        /// Commit lists already read in this pass, by base (most sites share theirs).
        private let read = CommitLists()

        public init(author: Person?, summary: String?, id: String? = nil, history: (any CommitHistory)? = nil) {
            self.author = author
            self.summary = summary
            self.id = id
            self.history = history
        }

        /// The commits a change of a site carries: those since the commit last applied there.
        func commits(since base: String?) -> [CommitIdentity] {
            guard let id, let history else { return [] }
            let key = base ?? ""
            if let known = read.get(key) { return known }
            let commits = history.commits(from: base, to: id, limit: 1000) ?? []
            read.set(key, commits)
            return commits
        }
    }

    /// A lock-protected memo of commit lists.
    final class CommitLists: @unchecked Sendable {
        private let lock = NSLock()
        private var lists: [String: [CommitIdentity]] = [:]

        func get(_ key: String) -> [CommitIdentity]? { lock.withLock { lists[key] } }
        func set(_ key: String, _ value: [CommitIdentity]) { lock.withLock { lists[key] = value } }
    }

    /// - Parameter first: sites to plan and queue before the others (those a new commit changed: its change is queued
    ///   while the rest of the fleet is still being observed). Only the order changes; reports come back in the order
    ///   of `sites`.
    public func reconcile(_ state: DesiredState, sites: [Site]? = nil, commit: CommitContext, first: [String]? = nil) throws -> [SiteReport] {
        try reconcilePass(state, sites: sites, commit: commit, first: first).reports
    }

    /// What a pass did: every site's report, or — when it gave way to a newer commit — those of the sites it reached.
    public struct PassOutcome: Sendable {
        public var reports: [SiteReport]
        /// False when the pass stopped early (`giveWay`): the sites after those reported were neither planned nor
        /// queued, and no change's gates were evaluated. The next pass does both.
        public var complete: Bool
    }

    /// `reconcile`, reporting each site's planning to `observed` (its plan without file contents, in the order planned:
    /// what a service shows as the site's condition, without planning every site a second time) and able to give way:
    /// once the `first` sites are queued, `giveWay` is asked before each further site;
    /// when it answers true (a newer commit was pushed meanwhile), the pass plans no more sites, queues nothing more and
    /// evaluates no gates — what it did so far stands, as if it had not reached the other sites, and the next pass,
    /// at the newer commit, starts at once with the sites that commit changed.
    public func reconcilePass(
        _ state: DesiredState, sites: [Site]? = nil, commit: CommitContext, first: [String]? = nil,
        observed: ((SitePlanning.Summary) -> Void)? = nil, giveWay: (@Sendable () -> Bool)? = nil
    ) throws -> PassOutcome {
        let given = sites ?? state.sites
        let sites: [Site]
        let early = Set(first ?? [])
        if !early.isEmpty {
            sites = given.filter { early.contains($0.name) } + given.filter { !early.contains($0.name) }
        } else {
            sites = given
        }
        let mustReach = sites.prefix { early.contains($0.name) }.count
        // Sites are planned on all cores and queued one after the other as their plans arrive, in order; each keeps
        // only its queued change, so a pass over a thousand sites never holds every plan's file contents at once.
        // Wave gates need to know only which earlier-wave sites the commit leaves unchanged: their empty plans.
        // Changes that may finish while this pass plans: a plan from before their outcome is not queued again.
        let inFlight = Set(try store.changes(sites: [], statuses: [.ready, .applying], limit: nil).map(\.id))
        var queued: [Queued] = []
        var unchanged: [String: Plan] = [:]
        var failure: (any Error)?
        let stopped = StopFlag()
        ParallelMap.forEach(Array(sites.enumerated()), workersPerCore: SitePlanning.workersPerCore, { entry -> SitePlanning.Summary? in
            if entry.offset >= mustReach, stopped.isSet || giveWay?() == true {
                stopped.set()
                return nil
            }
            return SitePlanning.Summary(planning.plan(entry.element, in: state))
        }, deliver: { summary in
            guard failure == nil, let summary else { return }
            do {
                queued.append(try queue(summary, commit: commit, config: state.config, inFlight: inFlight))
                if let plan = summary.plan, plan.isEmpty { unchanged[summary.site.name] = plan }
                observed?(summary.withoutContents)
            } catch {
                failure = error
            }
        })
        if let failure { throw failure }
        let order = Dictionary(given.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        queued.sort { order[$0.site.name, default: 0] < order[$1.site.name, default: 0] }
        if stopped.isSet {
            return PassOutcome(reports: queued.map(\.report), complete: false)
        }
        let waves = rollout.map { $0.gate(plans: unchanged) }
        return PassOutcome(reports: try queued.map { try gate($0, state: state, waves: waves) }, complete: true)
    }

    /// Set once, read from every worker.
    private final class StopFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }

    /// A site after the first half of reconciling (its change without file contents): its report when that is final, else its queued change.
    struct Queued {
        var site: Site
        var report: SiteReport
        var change: ChangeRequest?
        /// The gate rules read when it was queued (read once per site and pass).
        var rules: GateRules? = nil
    }

    /// Queues a site's non-empty plan (superseding the change it replaces), or supersedes the active change when the
    /// site already matches; invalid and unreachable sites keep their last queued change.
    /// - Parameter inFlight: the changes that were ready or being applied when the pass began planning.
    func queue(_ summary: SitePlanning.Summary, commit: CommitContext, config: RepositoryConfig, inFlight: Set<String> = []) throws -> Queued {
        let site = summary.site
        var notes: [String] = []
        let active = try store.changes(sites: [site.name], statuses: ChangeStatus.active, limit: nil).first
        guard var plan = summary.plan else {
            if let error = summary.error {
                notes.append("unreachable: \(error.message)")
                return Queued(site: site, report: SiteReport(site: site.name, condition: .unreachable, change: active?.withoutContents, gates: nil, notes: notes))
            }
            notes.append("does not compile (\(summary.diagnostics.count) problem(s)); nothing queued, the last queued change stays as it was")
            return Queued(site: site, report: SiteReport(site: site.name, condition: .invalid, change: active?.withoutContents, gates: nil, notes: notes))
        }
        if plan.isEmpty {
            if let active, active.status != .applying {
                _ = try store.transition(
                    changeID: active.id, from: [.waiting, .ready], to: .superseded, reason: "the site already matches the desired state",
                    events: [event(.plan, "change.superseded", site: site, change: active, before: active.status.rawValue, after: "superseded",
                                   reason: "the site already matches the desired state")])
                notes.append("\(active.id) superseded: the site already matches the desired state")
            }
            return Queued(site: site, report: SiteReport(site: site.name, condition: summary.condition, change: nil, gates: nil, notes: notes))
        }
        // The gate comes from what was already trusted at the site, tightened (never loosened) by the commit.
        var rules = try GateRules.resolve(site, proposedConfig: config, store: store)
        if rules.firstDeployment, summary.managedResources > 0 {
            // Nothing was applied under this site's name, but its target holds what Interlock applied (a renamed site,
            // or another site's target): not a first deployment whose commit may bring its own rules.
            rules.unrecordedHistory = true
        }
        let gate = rules.gate(forResourcePaths: plan.operations.map(\.policyPath))
        let commits = commit.commits(since: rules.baseline?.commit)
        // Which commit brought each operation (not worked out again while the site's change stays the same plan).
        if let history = commit.history, !commits.isEmpty, active?.plan.id != plan.id {
            for (index, introduced) in history.introducing(plan.operations, site: site.name, commits: commits).enumerated() {
                plan.operations[index].introducedBy = introduced
            }
        }
        var details = [
            "gate": gate.rawValue, "summary": plan.summary, "operations": plan.operations.map { "\($0.action.symbol)\($0.path)" }.joined(separator: " "),
            "author": commit.author.map { "\($0.name) <\($0.email ?? "")>" } ?? "", "timezone": site.timezone,
            "rulesFrom": rules.baseline.map { "applied \($0.changeID) (commit \($0.commit.map { String($0.prefix(10)) } ?? "working tree"))" }
                ?? (rules.unrecordedHistory ? "none recorded: strictest gate" : "this commit (first deployment)"),
            "target": GateRules.describe(site.target, reach: site.reach),
        ]
        if !commits.isEmpty {
            details["commits"] = commits.map { "\($0.id.prefix(10)) \($0.author.name) <\($0.author.email ?? "")>" }.joined(separator: "; ")
        }
        if !rules.changes.isEmpty {
            details["ruleChanges"] = rules.changes.map(\.description).joined(separator: "; ")
        }
        var events = [AuditEvent(
            actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .plan, action: "change.queued",
            site: site.name, planID: plan.id, commit: plan.commit, before: plan.liveFingerprint, after: plan.desiredFingerprint,
            details: details)]
        for drift in plan.drift {
            events.append(AuditEvent(
                actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .drift, action: "drift.detected",
                site: site.name, resource: drift.path, planID: drift.appliedByPlan, commit: drift.appliedCommit,
                before: drift.expectedHash, after: drift.actualHash ?? "vanished",
                details: ["kind": drift.kind.rawValue, "summary": drift.summary, "timezone": site.timezone]))
        }
        // A plan computed from an observation made before the site's last apply finished (a pass that overlapped an
        // agent's result) equals the plan that apply carried out: queueing it again would ask for signatures on work
        // already done. The next pass plans from what the site holds now.
        if active == nil, !inFlight.isEmpty, let last = try store.changes(sites: [site.name], statuses: [.applied], limit: 1).first,
           inFlight.contains(last.id), last.plan.id == plan.id {
            notes.append("planned from an observation made before \(last.id) was applied; planned again at the next pass")
            return Queued(site: site, report: SiteReport(site: site.name, condition: summary.condition, change: nil, gates: nil, notes: notes))
        }
        let carry = signers.flatMap { users in
            ApprovalCarry.candidate(active: active, plan: plan, gate: gate, rules: rules, users: users, commits: commits, author: commit.author)
        }
        let result = try store.enqueue(
            NewChange(site: site.name, plan: plan, gate: gate, author: commit.author, commitSummary: commit.summary, commits: commits,
                      ruleChanges: rules.changes, carry: carry), events: events)
        if let superseded = result.superseded {
            let carried = result.change.approvals.filter { $0.carriedFromChange != nil }.count
            notes.append("\(superseded.id) superseded by \(result.change.id)" + (carried > 0 ? " (same operations and live state: \(carried) approval(s) carried over)" : ""))
        }
        if result.created {
            notes.append("queued \(result.change.id): plan \(plan.shortID) \(plan.summary), gate \(gate.rawValue)")
            if let headline = RuleChange.headline(rules.changes) { notes.append("\(result.change.id) \(headline)") }
        }
        return Queued(site: site, report: SiteReport(site: site.name, condition: summary.condition, change: nil, gates: nil, notes: notes),
                      change: result.change.withoutContents, rules: rules)
    }

    /// The second half: the queued change's wave and gates, moving it to ready when they are all open.
    func gate(_ queued: Queued, state: DesiredState, waves: WaveGate?) throws -> SiteReport {
        guard let queuedChange = queued.change else { return queued.report }
        var report = queued.report
        let wave = try waves?.evaluate(queuedChange, site: queued.site, state: state, at: clock.now())
        let (change, gates, gateNotes) = try updateReadiness(queuedChange, site: queued.site, wave: wave, rules: queued.rules)
        report.change = change.withoutContents
        report.gates = gates
        report.notes += gateNotes
        return report
    }

    /// Moves a waiting change whose gates are all open to ready, and a ready one whose gates closed back to waiting.
    /// - Parameter rules: the site's gate rules when the caller has read them already.
    public func updateReadiness(_ change: ChangeRequest, site: Site, wave: WaveState? = nil, rules: GateRules? = nil) throws -> (ChangeRequest, GateStatus?, [String]) {
        guard change.status == .waiting || change.status == .ready else { return (change, nil, []) }
        let gates = GateEvaluator.evaluate(change, rules: try rules ?? GateRules.resolve(site, store: store), at: clock.now(), wave: wave)
        if gates.isOpen, change.status == .waiting {
            let updated = try store.transition(
                changeID: change.id, from: [.waiting], to: .ready, reason: "all gates open",
                events: [event(.plan, "gate.opened", site: site, change: change, before: "waiting", after: "ready",
                               details: ["gate": change.gate.rawValue, "approvers": gates.approvers.joined(separator: ","), "window": gates.window.map { "\($0)" } ?? "not required",
                                         "wave": gates.wave.map { "\($0)" } ?? "not applicable"])])
            return (updated, gates, ["\(change.id) is ready: all gates open"])
        }
        if !gates.isOpen, change.status == .ready {
            let reason = gates.waitingFor.joined(separator: "; ")
            let updated = try store.transition(
                changeID: change.id, from: [.ready], to: .waiting, reason: reason,
                events: [event(.plan, "gate.closed", site: site, change: change, before: "ready", after: "waiting", reason: reason)])
            return (updated, gates, ["\(change.id) waits again: \(reason)"])
        }
        return (change, gates, [])
    }

    /// The wave state of a change, planning earlier-wave sites as needed (nil without rollout waves).
    public func waveState(of change: ChangeRequest, site: Site, state: DesiredState) throws -> WaveState? {
        try rollout?.gate(planning: planning, state: state).evaluate(change, site: site, state: state, at: clock.now())
    }

    func event(
        _ category: AuditEvent.Category, _ action: String, site: Site, change: ChangeRequest, before: String? = nil, after: String? = nil,
        reason: String? = nil, details: [String: String] = [:]
    ) -> AuditEvent {
        var details = details
        details["timezone"] = site.timezone
        return AuditEvent(
            actor: AuditEvent.system, role: "reconciler", authentication: "system", category: category, action: action,
            site: site.name, changeID: change.id, planID: change.plan.id, commit: change.plan.commit, before: before, after: after,
            reason: reason, details: details)
    }
}

extension ChangeRequest {
    /// The change with its plan's file contents dropped (everything else, the diff lines included, is kept).
    var withoutContents: ChangeRequest {
        var copy = self
        copy.plan = plan.withoutContents
        return copy
    }
}

extension Plan {
    /// The plan with its operations' file contents dropped (ids, fingerprints, diff lines and drift are kept).
    public var withoutContents: Plan {
        var copy = self
        for index in copy.operations.indices {
            copy.operations[index].content = nil
            copy.operations[index].previousContent = nil
        }
        return copy
    }
}
