import ArgumentParser
import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Compare each site's live state with the desired state at a revision and show the plan.",
        discussion: """
            Nothing is applied. Exit code 0 when no site has changes, 2 when any site has changes (like \
            'terraform plan -detailed-exitcode'), 1 on an error (a site that does not compile or cannot be \
            reached, or an unreadable repository). Drift is reported separately from desired changes.
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Plan this site only (repeatable). Default: all sites.")
    var site: [String] = []

    @Flag(name: .long, help: "Plan every site (the default when --site is not given).")
    var all = false

    @Flag(name: .long, help: "Print the plans as JSON (the same as --format json).")
    var json = false

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, svg, html
    }

    @Option(name: .long, help: "Output: text (default); json; svg (the changed flows drawn, as one SVG document); html (a self-contained review page: the plans, the flow pictures, the commit).")
    var format: Format = .text

    func run() throws {
        let started = Date()
        let (outline, commit) = try repository.readOutline(failureCode: 1)
        let sites = try SiteSelection.resolve(outline: outline, names: all ? [] : site)
        let planning = try target.planning(stateDirectory: repository.stateDirectory, driverDirectory: repository.driverDirectory)
        if format == .svg || format == .html {
            try review(sites: sites, outline: outline, commit: commit, planning: planning)
            return
        }
        let json = json || format == .json

        // Sites are planned on all cores and printed in order as they finish; each keeps only its rendering and
        // what the audit log records, so memory follows the sites in flight, not the fleet.
        var observed: [ObservedPlan] = []
        var siteObjects: [Value] = []
        var failed = false, changes = false
        if !json {
            let at = commit.map { "commit \($0.id.hex.prefix(10)) (\($0.summary))" } ?? "working tree"
            print("Plan for \(repository.source) at \(at), targets under \(planning.targetBase)\n")
        }
        planning.plan(sites, in: outline, reduce: { outcome in
            (rendered: json ? nil : PlanText.render(outcome, planning: planning), object: json ? PlanText.json(outcome, planning: planning) : nil,
             observed: ObservedPlan(outcome), planned: { if case .planned = outcome { true } else { false } }())
        }, deliver: { result in
            if let rendered = result.rendered {
                print(rendered)
                print("")
            }
            if let object = result.object { siteObjects.append(object) }
            if let plan = result.observed {
                changes = changes || !plan.isEmpty
                observed.append(plan)
            }
            failed = failed || !result.planned
        })
        AuditTrail(stateDirectory: repository.stateDirectory, databaseURL: repository.databaseURL).observed(observed)
        let elapsed = Date().timeIntervalSince(started)
        KeptUntilExit.keep(outline)

        if json {
            var object: [String: Value] = [
                "repository": .string(repository.source.description),
                "sites": .array(siteObjects),
                "changes": .bool(changes),
                "seconds": .double((elapsed * 1000).rounded() / 1000),
            ]
            if let commit { object["commit"] = .string(commit.id.hex) }
            Terminal.printJSON(.object(object))
        } else {
            print(String(format: "%d site(s) planned in %.2f s", sites.count, elapsed))
        }
        if failed { throw ExitCode(1) }
        if changes { throw ExitCode(2) }
    }
}

extension PlanCommand {
    /// `--format svg` and `--format html`: the plans gathered in order, then one document.
    func review(sites: [Site], outline: DesiredStateOutline, commit: CommitInfo?, planning: SitePlanning) throws {
        var outcomes: [SitePlanning.Outcome] = []
        planning.plan(sites, in: outline, reduce: { $0 }, deliver: { outcomes.append($0) })
        AuditTrail(stateDirectory: repository.stateDirectory, databaseURL: repository.databaseURL).observed(outcomes.compactMap(ObservedPlan.init))
        KeptUntilExit.keep(outline)
        let at = commit.map { "commit \($0.id.hex.prefix(10)) (\($0.summary))" } ?? "working tree"
        switch format {
        case .svg:
            print(FlowPicture.document(PlanReview.pictures(outcomes)), terminator: "")
        default:
            print(PlanReview.html(outcomes, title: "Plan for \(repository.source) at \(at)", commit: commit, planning: planning))
        }
        if outcomes.contains(where: { if case .planned = $0 { false } else { true } }) { throw ExitCode(1) }
        if outcomes.contains(where: { if case .planned(_, _, let plan) = $0 { !plan.isEmpty } else { false } }) { throw ExitCode(2) }
    }
}

/// Picks the sites a command works on, failing clearly on unknown names or an invalid repository.
enum SiteSelection {
    /// The sites named (all when `names` is empty) of an outline whose repository-wide checks passed. A site's own
    /// definitions are checked when it is planned: a problem there makes that site invalid, not the whole run.
    static func resolve(outline: DesiredStateOutline, names: [String]) throws -> [Site] {
        let errors = outline.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty {
            for diagnostic in errors { FileHandle.standardError.write(Data((diagnostic.rendered + "\n").utf8)) }
            Terminal.error("the desired state has \(errors.count) problem(s); nothing was planned (run 'interlock validate')")
            throw ExitCode(1)
        }
        guard !names.isEmpty else { return outline.sites }
        return try names.map { name in
            guard let site = outline.site(named: name) else {
                Terminal.error("no site '\(name)'; sites: \(outline.sites.map(\.name).joined(separator: ", "))")
                throw ExitCode(1)
            }
            return site
        }
    }
}
