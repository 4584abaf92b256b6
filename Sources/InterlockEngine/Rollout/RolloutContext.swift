import Foundation
import InterlockModel

/// What the reconciler and the executor need to apply the rollout waves of `interlock.yaml`.
public struct RolloutContext: Sendable {
    public var config: RepositoryConfig
    public var store: any RolloutStore
    public var graph: any CommitGraph
    /// How often a baking change's health commands run again.
    public var bakeCheckInterval: TimeInterval

    public init(config: RepositoryConfig, store: any RolloutStore, graph: any CommitGraph, bakeCheckInterval: TimeInterval = 300) {
        self.config = config
        self.store = store
        self.graph = graph
        self.bakeCheckInterval = bakeCheckInterval
    }

    /// A wave gate that plans earlier-wave sites on demand (once each).
    public func gate(planning: SitePlanning, state: DesiredState) -> WaveGate {
        let cache = PlanCache(planning: planning, state: state)
        return WaveGate(config: config, store: store, graph: graph, currentPlan: { cache.plan($0) })
    }

    /// A wave gate over plans already computed in this pass.
    func gate(plans: [String: Plan]) -> WaveGate {
        WaveGate(config: config, store: store, graph: graph, currentPlan: { plans[$0.name] })
    }
}

/// Plans sites lazily and remembers the result for the rest of one evaluation.
final class PlanCache: @unchecked Sendable {
    private let planning: SitePlanning
    private let state: DesiredState
    private let lock = NSLock()
    private var plans: [String: Plan?] = [:]

    init(planning: SitePlanning, state: DesiredState) {
        self.planning = planning
        self.state = state
    }

    func plan(_ site: Site) -> Plan? {
        lock.lock()
        defer { lock.unlock() }
        if let known = plans[site.name] { return known }
        let plan: Plan? = if case .planned(_, _, let p) = planning.plan(site, in: state) { p } else { nil }
        plans[site.name] = plan
        return plan
    }
}
