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

            Direct mode (--plan ID --ungated): the plan is computed again and applied only if its id still starts with \
            --plan, so exactly the reviewed changes are applied against exactly the reviewed live state; --ungated \
            acknowledges that no approval or maintenance window is checked (first deployment).
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

    @Flag(name: .long, help: "Direct mode: acknowledge that approvals and maintenance windows are bypassed.")
    var ungated = false

    func validate() throws {
        if let plan {
            guard ungated else { throw ValidationError("apply --plan applies without gates and needs --ungated") }
            guard site != nil else { throw ValidationError("apply --plan needs --site") }
            let hex = plan.hasPrefix("sha256:") ? String(plan.dropFirst(7)) : plan
            guard hex.count >= 12, hex.allSatisfy(\.isHexDigit) else {
                throw ValidationError("--plan needs at least the 12 hex digits 'interlock plan' prints")
            }
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
        let (state, _, _) = try context.desiredState()
        let operatorPerson = Person(id: CommandActor.current.id, name: CommandActor.current.name)
        let executor = Executor(planning: context.planning, store: context.store, clock: context.clock, actor: operatorPerson,
                                actorRole: "operator", authentication: "os-user", runHooks: hooks == .run, rollout: context.rollout(state))
        for note in try executor.recoverInterrupted(state) { print("recovered \(note)") }
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
            guard let site = state.site(named: change.site) else { continue }
            let wave = try context.reconciler(state).waveState(of: change, site: site, state: state)
            let gates = GateEvaluator.evaluate(change, site: site, at: context.clock.now(), emergency: emergency, wave: wave)
            if dryRun || !gates.isOpen {
                print(ChangeText.headline(change))
                for line in ChangeText.gateLines(gates, change: change, site: site) { print("    " + line) }
                if !gates.isOpen, self.change != nil { failed = true }
                if dryRun, gates.isOpen { print("    would apply: " + change.plan.operations.map { "\($0.action.symbol)\($0.path)" }.joined(separator: " ")) }
                continue
            }
            let outcome = try executor.apply(change, site: site, state: state, emergency: emergency, reason: reason)
            ApplyText.print(outcome)
            if case .rolledBack = outcome { failed = true }
            if case .skipped = outcome, self.change != nil { failed = true }
        }
        context.checkpoint()
        if failed { throw ExitCode(1) }
    }

    private func runDirect() throws {
        let (outline, _) = try repository.readOutline(failureCode: 1)
        let site = self.site ?? ""
        let sites = try SiteSelection.resolve(outline: outline, names: [site])
        let state = outline.state
        let planning = target.planning(stateDirectory: repository.stateDirectory, driverDirectory: repository.driverDirectory)
        let outcome = planning.plan(sites[0], in: state)
        guard case .planned(_, _, let current) = outcome else {
            print(PlanText.render(outcome))
            throw ExitCode(1)
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
        let driver = planning.driver(for: sites[0])
        let trail = AuditTrail(stateDirectory: repository.stateDirectory)
        let store: SQLiteStore
        do {
            store = try trail.applyStarting(current, site: sites[0], ungated: ungated)
        } catch {
            Terminal.error("the audit log cannot record this apply, so nothing was applied: \(error)")
            throw ExitCode(1)
        }
        let receipt: ApplyReceipt
        do {
            receipt = try driver.apply(current)
        } catch {
            Terminal.error("applying plan \(current.shortID) to \(site) failed: \(error)")
            do {
                try trail.applyFinished(current, site: sites[0], store: store, applied: [], error: error)
            } catch let auditError {
                Terminal.error("the failure could not be recorded in the audit log: \(auditError)")
            }
            throw ExitCode(1)
        }
        print("\(Terminal.styled("applied", .green)) plan \(current.shortID) to \(site): \(current.summary), \(receipt.applied.count) operation(s)")
        do {
            try trail.applyFinished(current, site: sites[0], store: store, applied: receipt.applied, error: nil)
        } catch {
            Terminal.error("the apply succeeded but its result could not be recorded in the audit log: \(error)")
            throw ExitCode(1)
        }
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
