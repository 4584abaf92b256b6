import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply one site's current plan directly through its driver, without gates (first deployment).",
        discussion: """
            The plan is computed again and applied only if its id still starts with --plan, so exactly the \
            reviewed changes are applied against exactly the reviewed live state. --ungated acknowledges that no \
            approval or maintenance window is checked. If an operation fails, the operations already applied \
            are rolled back. Exit code 0 applied (or nothing to do), 1 refused or failed.
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "The site to apply.")
    var site: String

    @Option(name: .long, help: "The plan id (or its first 12+ hex digits) shown by 'interlock plan'.")
    var plan: String

    @Flag(name: .long, help: "Acknowledge that this apply bypasses approvals and maintenance windows.")
    var ungated = false

    func validate() throws {
        guard ungated else {
            throw ValidationError("apply without gates needs --ungated (approvals and maintenance windows are not checked)")
        }
        let hex = plan.hasPrefix("sha256:") ? String(plan.dropFirst(7)) : plan
        guard hex.count >= 12, hex.allSatisfy(\.isHexDigit) else {
            throw ValidationError("--plan needs at least the 12 hex digits 'interlock plan' prints")
        }
    }

    func run() throws {
        let (snapshot, _) = try repository.readSnapshot(failureCode: 1)
        let (state, sites) = try SiteSelection.resolve(snapshot: snapshot, names: [site])
        let planning = target.planning(stateDirectory: repository.stateDirectory, driverDirectory: repository.driverDirectory)
        let outcome = planning.plan(sites[0], in: state)
        guard case .planned(_, _, let current) = outcome else {
            print(PlanText.render(outcome))
            throw ExitCode(1)
        }
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
