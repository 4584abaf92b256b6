import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "How each site stands: in sync, changes pending, drifted (which paths), or unreachable (why).",
        discussion: "Exit code 0 when every site is in sync, 1 when a site is drifted, invalid or unreachable, 2 when changes are pending."
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Only this site (repeatable).")
    var site: [String] = []

    @Flag(name: .long, help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let (snapshot, commit) = try repository.readSnapshot(failureCode: 1)
        let (state, sites) = try SiteSelection.resolve(snapshot: snapshot, names: site)
        let planning = target.planning(stateDirectory: repository.stateDirectory, driverDirectory: repository.driverDirectory)
        let outcomes = planning.plan(sites, in: state)
        AuditTrail(stateDirectory: repository.stateDirectory).observed(outcomes)
        KeptUntilExit.keep((snapshot, state, outcomes))
        let conditions = outcomes.map(SiteCondition.init)

        if json {
            var object: [String: Value] = ["sites": .array(outcomes.map { outcome in
                var entry = PlanText.json(outcome).objectValue ?? [:]
                entry["plan"] = nil
                if case .planned(_, let live, let plan) = outcome {
                    entry["pending"] = .object(["create": .int(plan.count(.create)), "update": .int(plan.count(.update)), "delete": .int(plan.count(.delete))])
                    entry["planId"] = .string(plan.id)
                    entry["managedResources"] = .int(live.resources.values.filter(\.managed).count)
                }
                return .object(entry)
            })]
            if let commit { object["commit"] = .string(commit.id.hex) }
            Terminal.printJSON(.object(object))
        } else {
            let rows = outcomes.map { outcome -> [String] in
                let condition = SiteCondition(outcome)
                let detail: String
                switch outcome {
                case .invalid(_, let diagnostics): detail = "\(diagnostics.count) problem(s) in the desired state"
                case .unreachable(_, let error): detail = error.message
                case .planned(_, let live, let plan):
                    var parts: [String] = []
                    if !plan.isEmpty { parts.append("\(plan.summary) pending (plan \(plan.shortID))") }
                    if !plan.drift.isEmpty { parts.append("\(plan.drift.count) drifted: " + plan.drift.map(\.path).joined(separator: ", ")) }
                    if parts.isEmpty { parts.append("\(live.resources.values.filter(\.managed).count) managed resources match") }
                    detail = parts.joined(separator: "; ")
                }
                return [outcome.site.name, styled(condition), detail]
            }
            let at = commit.map { "commit \($0.id.hex.prefix(10))" } ?? "working tree"
            print("Status against \(repository.source) at \(at)\n")
            print(Terminal.table(["SITE", "STATUS", "DETAIL"], rows))
            for case .planned(_, _, let plan) in outcomes where !plan.drift.isEmpty {
                print("")
                print(Terminal.styled("\(plan.site): changed outside Interlock", .yellow))
                for drift in plan.drift { print("  ! \(drift.summary)") }
            }
        }
        if conditions.contains(where: { [.drifted, .invalid, .unreachable].contains($0) }) { throw ExitCode(1) }
        if conditions.contains(.changesPending) { throw ExitCode(2) }
    }

    private func styled(_ condition: SiteCondition) -> String {
        switch condition {
        case .inSync: Terminal.styled(condition.rawValue, .green)
        case .changesPending: Terminal.styled(condition.rawValue, .yellow)
        default: Terminal.styled(condition.rawValue, .red)
        }
    }
}
