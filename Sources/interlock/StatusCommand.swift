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
        let (outline, commit) = try repository.readOutline(failureCode: 1)
        let sites = try SiteSelection.resolve(outline: outline, names: site)
        let planning = try target.planning(stateDirectory: repository.stateDirectory, driverDirectory: repository.driverDirectory)
        let json = json
        // Each site is reduced to its row (or JSON entry) on the worker that planned it.
        var reports: [SiteReport] = []
        planning.plan(sites, in: outline, reduce: { SiteReport($0, json: json) }, deliver: { reports.append($0) })
        AuditTrail(stateDirectory: repository.stateDirectory, databaseURL: repository.databaseURL).observed(reports.compactMap(\.observed))
        KeptUntilExit.keep(outline)
        let conditions = reports.map(\.condition)

        if json {
            var object: [String: Value] = ["sites": .array(reports.compactMap(\.object))]
            if let commit { object["commit"] = .string(commit.id.hex) }
            Terminal.printJSON(.object(object))
        } else {
            let rows = reports.map { [$0.site, styled($0.condition), $0.detail] }
            let at = commit.map { "commit \($0.id.hex.prefix(10))" } ?? "working tree"
            print("Status against \(repository.source) at \(at)\n")
            print(Terminal.table(["SITE", "STATUS", "DETAIL"], rows))
            for report in reports where !report.drift.isEmpty {
                print("")
                print(Terminal.styled("\(report.site): changed outside Interlock", .yellow))
                for summary in report.drift { print("  ! \(summary)") }
            }
        }
        if conditions.contains(where: { [.drifted, .invalid, .unreachable].contains($0) }) { throw ExitCode(1) }
        if conditions.contains(.changesPending) { throw ExitCode(2) }
    }

    /// What status shows of one site.
    struct SiteReport: Sendable {
        var site: String
        var condition: SiteCondition
        var detail: String
        var drift: [String]
        var object: Value?
        var observed: ObservedPlan?

        init(_ outcome: SitePlanning.Outcome, json: Bool) {
            site = outcome.site.name
            condition = SiteCondition(outcome)
            observed = ObservedPlan(outcome)
            drift = []
            switch outcome {
            case .invalid(_, let diagnostics): detail = "\(diagnostics.count) problem(s) in the desired state"
            case .unreachable(_, let error): detail = error.message
            case .planned(_, let live, let plan):
                var parts: [String] = []
                if !plan.isEmpty { parts.append("\(plan.summary) pending (plan \(plan.shortID))") }
                if !plan.drift.isEmpty { parts.append("\(plan.drift.count) drifted: " + plan.drift.map(\.path).joined(separator: ", ")) }
                if parts.isEmpty { parts.append("\(live.resources.values.filter(\.managed).count) managed resources match") }
                detail = parts.joined(separator: "; ")
                drift = plan.drift.map(\.summary)
            }
            guard json else { return }
            var entry = PlanText.json(outcome).objectValue ?? [:]
            entry["plan"] = nil
            if case .planned(_, let live, let plan) = outcome {
                entry["pending"] = .object(["create": .int(plan.count(.create)), "update": .int(plan.count(.update)), "delete": .int(plan.count(.delete))])
                entry["planId"] = .string(plan.id)
                entry["managedResources"] = .int(live.resources.values.filter(\.managed).count)
            }
            object = .object(entry)
        }
    }

    private func styled(_ condition: SiteCondition) -> String {
        switch condition {
        case .inSync: Terminal.styled(condition.rawValue, .green)
        case .changesPending: Terminal.styled(condition.rawValue, .yellow)
        default: Terminal.styled(condition.rawValue, .red)
        }
    }
}
