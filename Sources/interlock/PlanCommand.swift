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

    @Flag(name: .long, help: "Print the plans as JSON.")
    var json = false

    func run() throws {
        let started = Date()
        let (snapshot, commit) = try repository.readSnapshot(failureCode: 1)
        let (state, sites) = try SiteSelection.resolve(snapshot: snapshot, names: all ? [] : site)
        let planning = target.planning(stateDirectory: repository.stateDirectory, driverDirectory: repository.driverDirectory)
        let outcomes = planning.plan(sites, in: state)
        AuditTrail(stateDirectory: repository.stateDirectory).observed(outcomes)
        let elapsed = Date().timeIntervalSince(started)
        KeptUntilExit.keep((snapshot, state, outcomes))

        if json {
            var object: [String: Value] = [
                "repository": .string(repository.source.description),
                "sites": .array(outcomes.map(PlanText.json)),
                "changes": .bool(outcomes.contains { if case .planned(_, _, let plan) = $0 { !plan.isEmpty } else { false } }),
                "seconds": .double((elapsed * 1000).rounded() / 1000),
            ]
            if let commit { object["commit"] = .string(commit.id.hex) }
            Terminal.printJSON(.object(object))
        } else {
            let at = commit.map { "commit \($0.id.hex.prefix(10)) (\($0.summary))" } ?? "working tree"
            print("Plan for \(repository.source) at \(at), targets under \(planning.targetBase)\n")
            for outcome in outcomes {
                print(PlanText.render(outcome))
                print("")
            }
            print(String(format: "%d site(s) planned in %.2f s", outcomes.count, elapsed))
        }
        if outcomes.contains(where: { if case .planned = $0 { false } else { true } }) { throw ExitCode(1) }
        if outcomes.contains(where: { if case .planned(_, _, let plan) = $0 { !plan.isEmpty } else { false } }) { throw ExitCode(2) }
    }
}

/// Picks the sites a command works on, failing clearly on unknown names or an invalid repository.
enum SiteSelection {
    static func resolve(snapshot: InterlockGit.Snapshot, names: [String]) throws -> (DesiredState, [Site]) {
        let loaded = DesiredState.load(from: snapshot)
        let errors = loaded.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty {
            for diagnostic in errors { FileHandle.standardError.write(Data((diagnostic.rendered + "\n").utf8)) }
            Terminal.error("the desired state has \(errors.count) problem(s); nothing was planned (run 'interlock validate')")
            throw ExitCode(1)
        }
        guard !names.isEmpty else { return (loaded.state, loaded.state.sites) }
        var sites: [Site] = []
        for name in names {
            guard let site = loaded.state.site(named: name) else {
                Terminal.error("no site '\(name)'; sites: \(loaded.state.sites.map(\.name).joined(separator: ", "))")
                throw ExitCode(1)
            }
            sites.append(site)
        }
        return (loaded.state, sites)
    }
}
