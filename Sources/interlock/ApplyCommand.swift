import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply ready changes from the queue (or, with --plan and --ungated, one site's current plan directly, without gates).",
        discussion: """
            Queue mode (default): applies every ready change (or --change, or those of --site), one at a time per site. \
            Just before applying, the gates are checked again and the site is re-observed: if its live state no longer \
            matches the plan, nothing is applied and the change is superseded. After the operations the components' \
            reload and health commands run; a failure rolls every operation back. --emergency starts an approved change \
            outside its window, only with one approval more than the site requires and a --reason. --dry-run shows what \
            would be applied and why the rest waits. Exit code 0 when everything selected was applied (or nothing was \
            ready), 1 when an apply was refused, failed or rolled back.

            Direct mode (--plan ID --ungated): only for a site's first deployment (nothing applied there yet). The plan \
            is computed again and applied only if its id still starts with --plan, so exactly the reviewed changes are \
            applied against exactly the reviewed live state; --ungated acknowledges that no approval or maintenance \
            window is checked. The apply is recorded as a change of the site like any other (later waves wait for its \
            bake; its rules become the site's trusted rules). After the first deployment every change goes through the \
            queue, or through --emergency.

            Every apply, and every override (--ungated, --emergency, --hooks skip), is made by an authenticated person: \
            --as USER (an operator or admin acting for the site, from the trusted instance configuration) and that \
            user's password, asked on the terminal or read with --password-stdin. Refusals are audited.
            """
    )

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Only changes of this site (queue mode); the site to apply (direct mode).")
    var site: String?

    @Option(name: .long, help: "Apply this change only, e.g. plant-a-3.")
    var change: String?

    @Flag(name: .long, help: "Start an approved change outside its window (needs one approval more than usual and --reason).")
    var emergency = false

    @Option(name: .long, help: "Why (required with --emergency; recorded).")
    var reason: String?

    @Flag(name: .long, help: "Show what would be applied, apply nothing.")
    var dryRun = false

    @Option(name: .long, help: "Whether components' reload and health commands run: run or skip (skipping is audited).")
    var hooks: HookMode = .run

    @Option(name: .long, help: "Direct mode: the plan id (first 12+ hex digits) shown by 'interlock plan'.")
    var plan: String?

    @Flag(name: .long, help: "Direct mode: acknowledge that approvals and maintenance windows are bypassed (only for a site's first deployment).")
    var ungated = false

    @Option(name: .customLong("as"), help: "Your user id (an operator or admin acting for the sites): required unless --dry-run; you are asked for its password.")
    var user: String?

    @Flag(name: .long, help: "Read the password of --as from the first line of standard input (scripts).")
    var passwordStdin = false

    func validate() throws {
        if !dryRun && user == nil {
            throw ValidationError("apply changes what runs at a plant: say who you are with --as USER, an operator or admin of the instance configuration (you are asked for the password; scripts use --password-stdin)")
        }
        if let plan {
            guard ungated else { throw ValidationError("apply --plan applies without gates and needs --ungated") }
            guard site != nil else { throw ValidationError("apply --plan needs --site") }
            try PlanPrefix.validate(plan, option: "--plan")
        } else if ungated {
            throw ValidationError("--ungated goes with --plan (direct mode)")
        }
        if emergency {
            guard change != nil else { throw ValidationError("--emergency applies one named change: add --change ID") }
            guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--emergency needs --reason") }
        }
    }

    func run() throws {
        if plan != nil { try runDirect() } else { try runQueue() }
    }

    private func runQueue() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let head = try context.head()
        context.noteInvalidHead(head)
        var operatorPerson = Person(id: CommandActor.current.id, name: CommandActor.current.name)
        var authentication = "os-user"
        var role = "operator"
        var applier: AuthenticatedUser?
        if user != nil {
            let overrider = try authenticateOperator(context, verb: "apply", site: site ?? change.flatMap { try? context.store.change(id: $0)?.site })
            operatorPerson = Person(id: overrider.user.id, name: overrider.user.name, email: overrider.user.email)
            authentication = overrider.authentication
            role = overrider.user.title
            applier = overrider
        }
        func executor(_ state: DesiredState) -> Executor {
            Executor(planning: context.planning, store: context.store, clock: context.clock, actor: operatorPerson,
                     actorRole: role, authentication: authentication, runHooks: hooks == .run, rollout: context.rollout(state))
        }
        for interrupted in try context.store.changes(sites: [], statuses: [.applying], limit: nil) {
            guard let state = context.state(for: interrupted, head: head) else { continue }
            for note in try executor(state).recoverInterrupted(state) { print("recovered \(note)") }
        }
        var selected: [ChangeRequest]
        if let change {
            guard let found = try context.store.change(id: change) else {
                Terminal.error("there is no change \(change) (see 'interlock queue')")
                throw ExitCode(1)
            }
            selected = [found]
        } else {
            selected = try context.store.changes(sites: site.map { [$0] } ?? [], statuses: [.ready, .waiting], limit: nil)
                .sorted { $0.createdAt < $1.createdAt }
        }
        if selected.isEmpty { print("nothing to apply: no waiting or ready changes") }
        var failed = false
        for change in selected {
            guard let state = context.state(for: change, head: head), let site = state.site(named: change.site) else { continue }
            if let applier, !applier.user.actsFor(change.site), !dryRun {
                print("\(Terminal.styled("not started", .yellow)) \(change.id): \(applier.user.name) (\(applier.user.id)) does not act for \(change.site)")
                failed = true
                continue
            }
            let wave = try context.reconciler(state).waveState(of: change, site: site, state: state)
            let rules = try GateRules.resolve(site, proposedConfig: state.config, store: context.store)
            let gates = GateEvaluator.evaluate(change, rules: rules, at: context.clock.now(), emergency: emergency, wave: wave)
            if dryRun || !gates.isOpen {
                print(ChangeText.headline(change))
                for line in ChangeText.gateLines(gates, change: change, site: rules.site) { print("    " + line) }
                if !gates.isOpen, self.change != nil { failed = true }
                if dryRun, gates.isOpen { print("    would apply: " + change.plan.operations.map { "\($0.action.symbol)\($0.path)" }.joined(separator: " ")) }
                continue
            }
            let outcome = try executor(state).apply(change, site: site, state: state, emergency: emergency, reason: reason)
            ApplyText.print(outcome)
            if case .rolledBack = outcome { failed = true }
            if case .skipped = outcome, self.change != nil { failed = true }
        }
        context.checkpoint()
        if failed { throw ExitCode(1) }
    }

    private func runDirect() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let (state, commitContext, _) = try context.desiredState()
        let site = self.site ?? ""
        guard let siteDefinition = state.site(named: site) else {
            Terminal.error("there is no site '\(site)' in the desired state (see 'interlock sites')")
            throw ExitCode(1)
        }
        let sites = [siteDefinition]
        let planning = context.planning
        // Only a first deployment may bypass the queue: once anything was applied at the site, its trusted rules gate
        // every change.
        let overrider = try authenticateOperator(context, verb: "apply", site: site)
        let rules = try GateRules.resolve(sites[0], proposedConfig: state.config, store: context.store)
        guard rules.firstDeployment else {
            let last = rules.baseline.map { "\($0.changeID) was applied there at \(AuditText.utc($0.appliedAt))" } ?? "changes were applied there before"
            try refuseOverride(context, overrider: overrider, site: site, plan: nil,
                               "--ungated is only for a site's first deployment, and \(last); this change goes through the queue ('interlock reconcile', then approvals and a window), or through 'apply --change ID --emergency'")
        }
        let outcome = planning.plan(sites[0], in: state)
        guard case .planned(_, let live, let current) = outcome else {
            print(PlanText.render(outcome, planning: planning))
            throw ExitCode(1)
        }
        if live.resources.values.contains(where: \.managed) {
            try refuseOverride(context, overrider: overrider, site: site, plan: current,
                               "\(planning.absoluteTarget(of: sites[0])) already holds resources Interlock applied (under another site name?): --ungated is only for a first deployment; this change goes through the queue")
        }
        let plan = self.plan ?? ""
        let wanted = plan.hasPrefix("sha256:") ? plan : "sha256:" + plan
        guard current.id.hasPrefix(wanted) else {
            Terminal.error("the plan for \(site) is now \(current.shortID), not \(plan.prefix(19)): the desired or the live state changed since it was reviewed; nothing was applied — run 'interlock plan --site \(site)' and review again")
            throw ExitCode(1)
        }
        guard !current.isEmpty else {
            print("\(site): nothing to apply (the site matches the desired state)")
            return
        }
        let operatorPerson = Person(id: overrider.user.id, name: overrider.user.name, email: overrider.user.email)
        let executor = Executor(planning: context.planning, store: context.store, clock: context.clock, actor: operatorPerson,
                                actorRole: overrider.user.title, authentication: overrider.authentication, runHooks: hooks == .run,
                                rollout: context.rollout(state))
        let queued: ChangeRequest
        do {
            let result = try context.store.enqueue(
                NewChange(site: site, plan: current, gate: .auto, author: commitContext.author, commitSummary: commitContext.summary),
                events: [AuditEvent(
                    actor: operatorPerson, role: overrider.user.title, authentication: overrider.authentication, category: .plan,
                    action: "change.queued", site: site, planID: current.id, commit: current.commit, before: current.liveFingerprint,
                    after: current.desiredFingerprint,
                    details: ["gate": "bypassed (--ungated, first deployment)", "summary": current.summary, "target": planning.absoluteTarget(of: sites[0]),
                              "timezone": sites[0].timezone])])
            queued = result.change.status == .waiting
                ? try context.store.transition(changeID: result.change.id, from: [.waiting], to: .ready, reason: "first deployment, gates bypassed by \(overrider.user.name)",
                                               events: [AuditEvent(
                                                actor: operatorPerson, role: overrider.user.title, authentication: overrider.authentication, category: .plan,
                                                action: "gate.bypassed", site: site, changeID: result.change.id, planID: current.id, commit: current.commit,
                                                before: "waiting", after: "ready", reason: "first deployment (--ungated)",
                                                details: ["timezone": sites[0].timezone])])
                : result.change
        } catch {
            Terminal.error("the audit log cannot record this apply, so nothing was applied: \(error)")
            throw ExitCode(1)
        }
        let applyOutcome = try executor.apply(queued, site: sites[0], state: state, firstDeployment: true)
        context.checkpoint()
        ApplyText.print(applyOutcome)
        guard case .applied = applyOutcome else { throw ExitCode(1) }
    }

    /// The operator making an override, authenticated with their password; they must be an operator or admin who acts
    /// for the site.
    private func authenticateOperator(_ context: QueueContext, verb: String, site: String?) throws -> AuthenticatedUser {
        let options = try SignerOptions.parse(["--as", user ?? ""] + (passwordStdin ? ["--password-stdin"] : []))
        let overrider = try SignerAuthentication.authenticate(options, verb: verb, context: context, site: site, reason: reason)
        let roles = overrider.user.roles
        guard roles.contains(.operator) || roles.contains(.admin) else {
            try refuseOverride(context, overrider: overrider, site: site, plan: nil, "\(overrider.user.name) (\(overrider.user.id)) is not an operator or admin")
        }
        if let site, !overrider.user.actsFor(site) {
            try refuseOverride(context, overrider: overrider, site: site, plan: nil, "\(overrider.user.name) (\(overrider.user.id)) does not act for \(site)")
        }
        return overrider
    }

    private func refuseOverride(_ context: QueueContext, overrider: AuthenticatedUser, site: String?, plan: Plan?, _ message: String) throws -> Never {
        try context.store.record([AuditEvent(
            actor: Person(id: overrider.user.id, name: overrider.user.name), role: overrider.user.title, authentication: overrider.authentication,
            category: .access, action: "apply.refused", site: site, planID: plan?.id, commit: plan?.commit, reason: reason, success: false, error: message)])
        context.checkpoint()
        Terminal.error("apply refused: \(message)")
        throw ExitCode(1)
    }
}

/// Apply outcomes for people.
enum ApplyText {
    static func print(_ outcome: Executor.Outcome) {
        switch outcome {
        case .applied(let change):
            Swift.print("\(Terminal.styled("applied", .green)) \(change.id) at \(change.site): plan \(change.plan.shortID) \(change.plan.summary)")
        case .rolledBack(let change, let reason):
            Swift.print("\(Terminal.styled(change.status.rawValue, .red)) \(change.id) at \(change.site): \(reason)")
        case .skipped(let id, let reason):
            Swift.print("\(Terminal.styled("not started", .yellow)) \(id): \(reason)")
        }
    }
}
