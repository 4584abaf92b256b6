import Foundation
import InterlockEngine
import InterlockModel

/// What the agent does with a change in its plant, as the server's executor does it for a site it reaches itself:
/// re-observe (never overwrite what it did not plan against), apply through the files driver with its journal and the
/// claim's fencing token, run the components' reload and health commands, roll back on failure, and say what is
/// really there. Also what it finds after a restart in the middle of an apply.
struct AgentApplier {
    let site: String
    let root: String
    let plan: Plan
    let token: Int64
    let hooks: [AgentProtocol.Work.Hook]
    let desiredPaths: [String]
    let desiredVersion: String
    let desiredHashes: [String: String]

    var driver: any SiteDriver { FilesDriver(site: site, root: root).fenced(by: token) }

    func observe() throws -> LiveState { try FilesDriver(site: site, root: root).observe(desiredPaths: desiredPaths) }

    typealias Observed = Executor.Observed

    /// How the plan's resources stand at the site (the executor's comparison).
    func compare(_ live: LiveState) -> Observed { Executor.compare(plan, with: live) }

    func result(_ change: String, _ outcome: String, reason: String?, applied: [String] = [], hooks: [AgentProtocol.Result.HookRun] = [],
                live: LiveReport? = nil, notAsBefore: [String] = [], recovered: Bool = false) -> AgentProtocol.Result {
        AgentProtocol.Result(change: change, planID: plan.id, token: token, outcome: outcome, reason: reason, applied: applied, hooks: hooks,
                             live: live, notAsBefore: notAsBefore, recovered: recovered, finishedAt: Date())
    }

    /// The result with what the site holds now attached (when it can be observed and nothing is attached yet), so the
    /// server records the live state after the apply with the outcome and never plans against the state before it.
    func observed(_ result: AgentProtocol.Result) -> AgentProtocol.Result {
        guard result.live == nil, let live = try? observe() else { return result }
        var result = result
        result.live = LiveReport(live: live, desiredVersion: desiredVersion, desiredHashes: desiredHashes)
        return result
    }

    /// Runs the reload and health commands in order; the runs, and whether they all succeeded.
    func runHooks() -> (runs: [AgentProtocol.Result.HookRun], failure: String?) {
        let runner = Hooks(site: site, workingDirectory: root, environment: ["INTERLOCK_TARGET_ROOT": root])
        var runs: [AgentProtocol.Result.HookRun] = []
        for hook in hooks {
            let spec = CommandSpec(arguments: hook.command, timeout: hook.timeout.map { TimeSpan(seconds: Int($0)) })
            do {
                let output = try runner.run(component: hook.component, hook: hook.hook, command: spec)
                runs.append(.init(component: hook.component, hook: hook.hook, command: hook.command, succeeded: true, output: String(output.suffix(500))))
            } catch {
                let message = (error as? Hooks.Failure)?.message ?? "\(error)"
                runs.append(.init(component: hook.component, hook: hook.hook, command: hook.command, succeeded: false, output: String(message.suffix(500))))
                return (runs, "\(hook.hook) of \(hook.component) failed: \(message)")
            }
        }
        return (runs, nil)
    }

    /// Before writing: the live state must still be what the plan was computed against. The result to report
    /// instead of applying (nothing written), or nil to go on.
    func check(change: String) -> AgentProtocol.Result? {
        let live: LiveState
        do {
            live = try observe()
        } catch {
            return result(change, "aborted", reason: "the site could not be observed before applying: \(error)")
        }
        guard live.fingerprint == plan.liveFingerprint else {
            return result(change, "aborted", reason: "the live state changed since the plan was computed",
                          live: LiveReport(live: live, desiredVersion: desiredVersion, desiredHashes: desiredHashes))
        }
        return nil
    }

    /// Applies the plan (the claim is held and was just renewed): the result to report.
    func write(change: String) -> AgentProtocol.Result {
        let receipt: ApplyReceipt
        do {
            receipt = try driver.apply(plan)
        } catch {
            return settle(change, failure: "\(error)", receipt: nil, hooks: [])
        }
        let (runs, failure) = runHooks()
        if let failure { return settle(change, failure: failure, receipt: receipt, hooks: runs, applied: receipt.applied) }
        return result(change, "applied", reason: nil, applied: receipt.applied, hooks: runs)
    }

    /// After a failure: back to all-old (from the receipt, or the journal), observed; rolled back or failed.
    func settle(_ change: String, failure: String, receipt: ApplyReceipt?, hooks runs: [AgentProtocol.Result.HookRun], applied: [String] = [],
                recovered: Bool = false) -> AgentProtocol.Result {
        var observed = (try? observe()).map(compare)
        var rollbackError: String?
        if observed != .allOld {
            do {
                if let receipt { try driver.rollback(receipt) } else { _ = try driver.rollBackInterruptedApply(planID: plan.id) }
            } catch {
                rollbackError = "\(error)"
            }
            observed = (try? observe()).map(compare)
        }
        switch observed {
        case .allOld:
            return result(change, "rolled-back", reason: failure, applied: applied, hooks: runs, recovered: recovered)
        case .mixed(let paths):
            return result(change, "failed", reason: failure + (rollbackError.map { " (rollback: \($0))" } ?? ""), applied: applied, hooks: runs,
                          notAsBefore: paths, recovered: recovered)
        case .allNew:
            return result(change, "failed", reason: failure + (rollbackError.map { " (rollback: \($0))" } ?? ""), applied: applied, hooks: runs,
                          notAsBefore: plan.operations.map(\.path), recovered: recovered)
        case .unknown, nil:
            return result(change, "failed", reason: failure + "; the site could not be observed after the rollback", applied: applied, hooks: runs,
                          notAsBefore: plan.operations.map(\.path), recovered: recovered)
        }
    }

    /// After a restart with this apply in flight: what is really there. Every resource new → the hooks run again
    /// (applied, or rolled back when they fail); anything else → rolled back from the journal, and failed with the
    /// paths that are not as they were when that does not bring it back. Never applied again blindly.
    func recover(change: String) -> AgentProtocol.Result {
        let why = "the agent stopped while applying (crash or restart)"
        switch (try? observe()).map(compare) {
        case .allNew:
            let (runs, failure) = runHooks()
            if let failure { return settle(change, failure: "\(why) after writing every resource; \(failure)", receipt: nil, hooks: runs, recovered: true) }
            return result(change, "applied", reason: "\(why) after writing every resource; the reload and health commands ran again",
                          applied: plan.operations.map(\.path), hooks: runs, recovered: true)
        default:
            return settle(change, failure: "\(why) before the apply finished", receipt: nil, hooks: [], recovered: true)
        }
    }
}
