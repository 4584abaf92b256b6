import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "The change requests per site: status, gates, what each waits for, and when the next window opens (site time and UTC)."
    )

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Only this site (repeatable).")
    var site: [String] = []

    @Flag(name: .long, help: "Also list finished changes (applied, rejected, superseded …), newest first.")
    var all = false

    @Flag(name: .long, help: "Print the queue as JSON.")
    var json = false

    func run() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let head = try context.head()
        context.noteInvalidHead(head)
        let changes = try context.store.changes(sites: site, statuses: all ? [] : ChangeStatus.active, limit: all ? 50 : nil)
        let now = context.clock.now()
        // The head's state, or (when the head does not validate) the state of the newest queued change's commit.
        guard let state = head.state ?? changes.lazy.compactMap({ context.state(for: $0, head: head) }).first else {
            if changes.isEmpty { print("no active change requests; HEAD does not validate") ; return }
            Terminal.error("neither HEAD nor the commits of the queued changes can be read")
            throw ExitCode(1)
        }
        func gates(_ change: ChangeRequest, _ site: Site) throws -> GateStatus {
            let state = context.state(for: change, head: head) ?? state
            let reconciler = context.reconciler(state)
            return GateEvaluator.evaluate(change, rules: try GateRules.resolve(site, proposedConfig: state.config, store: context.store), at: now,
                                          wave: try reconciler.waveState(of: change, site: site, state: state))
        }
        if json {
            Terminal.printJSON(.object(["now": .string(ISO8601DateFormatter().string(from: now)), "changes": .array(try changes.map { change in
                var object = ChangeText.json(change)
                if let site = state.site(named: change.site), change.status.isActive {
                    object["gates"] = ChangeText.json(try gates(change, site))
                }
                return .object(object)
            })]))
            return
        }
        if changes.isEmpty {
            print(all ? "no change requests yet" : "no active change requests: every site matches what was last reconciled (run 'interlock reconcile')")
        }
        for change in changes {
            print(ChangeText.headline(change))
            for line in ChangeText.trustLines(change) { print("    " + line) }
            if let site = state.site(named: change.site), change.status == .waiting || change.status == .ready {
                let rules = try GateRules.resolve(site, proposedConfig: state.config, store: context.store)
                for line in ChangeText.gateLines(try gates(change, site), change: change, site: rules.site) { print("    " + line) }
            } else if let reason = change.statusReason {
                print("    \(reason)")
            }
        }
        print("")
        for site in state.sites where self.site.isEmpty || self.site.contains(site.name) {
            let schedule = MaintenanceSchedule(site: site)
            let window = schedule?.windowGate(at: now, minimumRemaining: site.minimumWindowRemaining) ?? .noWindows
            print("\(Terminal.styled(site.name, .bold)) (\(site.timezone)): \(window)")
        }
    }
}

/// Change requests for people and as JSON.
enum ChangeText {
    static func headline(_ change: ChangeRequest) -> String {
        let style: Terminal.Style = switch change.status {
        case .ready, .applied: .green
        case .waiting, .applying: .yellow
        case .failed, .rolledBack, .rejected: .red
        default: .dim
        }
        let commit = change.plan.commit.map { " commit \($0.prefix(10))" } ?? ""
        let summary = change.commitSummary.map { " \"\($0)\"" } ?? ""
        let author = change.author.map { " by \($0.name)" } ?? ""
        return "\(Terminal.styled(change.id, .bold))  \(Terminal.styled(change.status.rawValue, style))  plan \(change.plan.shortID) \(change.plan.summary)  gate \(change.gate.rawValue)\(commit)\(summary)\(author)"
    }

    /// What the change does to its site's own rules (old → new) and the commits it carries with their authors.
    static func trustLines(_ change: ChangeRequest) -> [String] {
        var lines: [String] = []
        if let headline = RuleChange.headline(change.ruleChanges) {
            lines.append(Terminal.styled("! \(headline)", .yellow))
            for rule in change.ruleChanges { lines.append("    \(rule)") }
        }
        if !change.commits.isEmpty {
            let shown = change.commits.prefix(5).map { commit in
                let committer = commit.committer.email != commit.author.email ? ", committed by \(commit.committer.name)" : ""
                return "\(commit.id.prefix(10)) \(commit.author.name) <\(commit.author.email ?? "")>\(committer)"
            }
            lines.append("commits (\(change.commits.count)): " + shown.joined(separator: "; ") + (change.commits.count > 5 ? "; …" : ""))
        }
        return lines
    }

    static func gateLines(_ gates: GateStatus, change: ChangeRequest, site: Site) -> [String] {
        var lines: [String] = []
        if gates.requiredApprovals > 0 {
            let names = change.approvals.filter { $0.planID == change.plan.id }.map {
                "\($0.approver.name) (\($0.meaning)\($0.carriedFromChange.map { ", signed on \($0), carried over: only the commit differs" } ?? ""))"
            }
            let mark = gates.approvalsSatisfied ? Terminal.styled("✓", .green) : Terminal.styled("…", .yellow)
            lines.append("\(mark) approval: \(gates.approvers.count) of \(gates.requiredApprovals)\(names.isEmpty ? " — approvers: \(site.approval.approvers.joined(separator: ", "))" : ": " + names.joined(separator: "; "))")
        }
        if let window = gates.window {
            lines.append("\(window.allowsStart ? Terminal.styled("✓", .green) : Terminal.styled("…", .yellow)) window: \(window)")
        }
        if gates.freeze.isFrozen { lines.append("\(Terminal.styled("✗", .red)) \(gates.freeze)") }
        if let wave = gates.wave {
            let mark: String
            if wave.allowsStart {
                mark = Terminal.styled("✓", .green)
            } else if case .halted = wave {
                mark = Terminal.styled("✗", .red)
            } else {
                mark = Terminal.styled("…", .yellow)
            }
            lines.append("\(mark) wave: \(wave)")
        }
        if gates.isOpen { lines.append(Terminal.styled("ready: every gate is open", .green)) }
        return lines
    }

    static func json(_ change: ChangeRequest) -> [String: Value] {
        [
            "id": .string(change.id), "site": .string(change.site), "status": .string(change.status.rawValue),
            "statusReason": change.statusReason.map(Value.string) ?? .null, "gate": .string(change.gate.rawValue),
            "plan": .object(["id": .string(change.plan.id), "shortId": .string(change.plan.shortID), "summary": .string(change.plan.summary),
                             "operations": .array(change.plan.operations.map(\.json))]),
            "commit": change.plan.commit.map(Value.string) ?? .null, "commitSummary": change.commitSummary.map(Value.string) ?? .null,
            "author": change.author.map { .object(["name": .string($0.name), "email": $0.email.map(Value.string) ?? .null]) } ?? .null,
            "createdAt": .string(ISO8601DateFormatter().string(from: change.createdAt)),
            "updatedAt": .string(ISO8601DateFormatter().string(from: change.updatedAt)),
            "emergency": .bool(change.emergency),
            "ruleChanges": .array(change.ruleChanges.map { .object(["kind": .string($0.kind.rawValue), "field": .string($0.field), "old": .string($0.old), "new": .string($0.new)]) }),
            "commits": .array(change.commits.map { c in
                .object(["id": .string(c.id), "summary": .string(c.summary),
                         "author": .object(["name": .string(c.author.name), "email": c.author.email.map(Value.string) ?? .null]),
                         "committer": .object(["name": .string(c.committer.name), "email": c.committer.email.map(Value.string) ?? .null])])
            }),
            "approvals": .array(change.approvals.map { a in
                .object(["approver": .string(a.approver.id), "name": .string(a.approver.name), "role": .string(a.role), "meaning": .string(a.meaning),
                         "reason": .string(a.reason), "planId": .string(a.planID), "at": .string(ISO8601DateFormatter().string(from: a.at)),
                         "carriedFrom": a.carriedFromChange.map { .object(["change": .string($0), "planId": a.carriedFromPlan.map(Value.string) ?? .null]) } ?? .null])
            }),
        ]
    }

    static func json(_ gates: GateStatus) -> Value {
        .object([
            "mode": .string(gates.mode.rawValue), "open": .bool(gates.isOpen), "approvers": .array(gates.approvers.map(Value.string)),
            "requiredApprovals": .int(gates.requiredApprovals), "window": gates.window.map { .string("\($0)") } ?? .null,
            "freeze": gates.freeze.isFrozen ? .string("\(gates.freeze)") : .null, "wave": gates.wave.map { .string("\($0)") } ?? .null, "waitingFor": .array(gates.waitingFor.map(Value.string)),
        ])
    }
}
