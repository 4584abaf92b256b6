import Foundation
import InterlockModel

/// Re-checks the health of changes that are baking (applied, inside their wave's `bake`), at most every
/// `bakeCheckInterval`. A failed check ends the change `failed`, which halts the commit's rollout for the
/// later waves. The change is not rolled back automatically: what runs at the plant is left for the plant
/// to decide (revert the commit, or `rollout resume`).
public struct BakeMonitor: Sendable {
    public var planning: SitePlanning
    public var rollout: RolloutContext
    public var clock: any InterlockClock
    /// The desired state at a commit (the commit a baking change was applied from), nil when it cannot be read.
    public var stateAt: @Sendable (String) -> DesiredState?

    /// - Parameter stateAt: reads the desired state at a commit. The health commands of a baking change are those of
    ///   the commit it was applied from: a newer commit, not approved yet, never gets to run its own.
    public init(planning: SitePlanning, rollout: RolloutContext, clock: any InterlockClock, stateAt: @escaping @Sendable (String) -> DesiredState?) {
        self.planning = planning
        self.rollout = rollout
        self.clock = clock
        self.stateAt = stateAt
    }

    /// Runs due health checks; returns one note per check.
    public func check(_ state: DesiredState) throws -> [String] {
        var notes: [String] = []
        let now = clock.now()
        for wave in rollout.config.waves {
            guard let bake = wave.bake else { continue }
            for name in wave.sites {
                // A site reached through its agent: its health commands run in the plant (by the agent, after each
                // apply), never on the server, which may not even reach the plant's network.
                guard let site = state.site(named: name), site.reach == .server,
                      let change = try rollout.store.changes(sites: [name], statuses: [.applied], limit: 1).first,
                      change.updatedAt.addingTimeInterval(TimeInterval(bake.seconds)) > now
                else { continue }
                if let last = try rollout.store.lastHealthCheck(changeID: change.id), now.timeIntervalSince(last) < rollout.bakeCheckInterval { continue }
                var applied = state
                if let commit = change.plan.commit, commit != state.commitID {
                    guard let old = stateAt(commit) else {
                        notes.append("\(change.id) not re-checked: commit \(commit.prefix(10)) it was applied from cannot be read")
                        continue
                    }
                    applied = old
                }
                let compilation = applied.compile(site: applied.site(named: name) ?? site)
                let hooks = Hooks(site: site.name, workingDirectory: planning.workingDirectory, environment: planning.hookEnvironment(for: site))
                var failure: Hooks.Failure?
                var checked: [String] = []
                for (component, hook, command) in Hooks.commands(for: change.plan, desired: compilation.site) where hook == "health" {
                    do {
                        _ = try hooks.run(component: component, hook: hook, command: command)
                        checked.append(component)
                    } catch let error as Hooks.Failure {
                        failure = error
                        break
                    }
                }
                let event = { (action: String, success: Bool, error: String?) in
                    AuditEvent(actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .apply, action: action,
                               site: site.name, changeID: change.id, planID: change.plan.id, commit: change.plan.commit,
                               success: success, error: error,
                               details: ["wave": wave.name, "bake": bake.description, "checked": checked.joined(separator: ","), "timezone": site.timezone])
                }
                if let failure {
                    _ = try rollout.store.transition(changeID: change.id, from: [.applied], to: .failed,
                                                     reason: "health check failed during bake: \(failure)", events: [event("bake.health.failed", false, failure.description)])
                    notes.append("\(change.id) failed during bake: \(failure)")
                } else {
                    try rollout.store.recordHealthCheck(changeID: change.id, at: now, events: [event("bake.health.passed", true, nil)])
                    notes.append("\(change.id) healthy during bake (\(checked.isEmpty ? "no health commands" : checked.joined(separator: ", ")))")
                }
            }
        }
        return notes
    }
}
