import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

/// What the reconcile loop last saw, for pages, the API and metrics: the desired state, each site's
/// condition and drift, and the last audit verification. Pages read it instead of observing every site per request.
public final class Observations: Sendable {
    public struct SiteObservation: Sendable {
        public var condition: SiteCondition
        public var drift: [Drift]
        public var pendingPlan: Plan?
        public var managedResources: Int
        /// Why the site could not be planned (invalid or unreachable).
        public var problem: String?
        public var observedAt: Date
        public var lastSuccessfulReconcile: Date?
    }

    public struct VerifyResult: Sendable {
        public var ok: Bool
        public var anchored: Bool
        public var records: Int
        public var headHash: String
        public var problemCount: Int
        public var firstProblem: String?
        public var notes: [String]
        public var at: Date
    }

    struct Snapshot: Sendable {
        var loaded: InterlockInstance.LoadedState?
        var loadError: String?
        var sites: [String: SiteObservation] = [:]
        var lastPass: Date?
        var lastPassError: String?
        var passes = 0
        /// Passes that stopped after the sites their commit changed, for a newer push (counted in `passes` too).
        var passesGaveWay = 0
        var passRunning = false
        var verify: VerifyResult?
    }

    private let snapshot = Locked(Snapshot())

    public init() {}

    public var loaded: InterlockInstance.LoadedState? { snapshot.current.loaded }
    public var loadError: String? { snapshot.current.loadError }
    public var lastPass: Date? { snapshot.current.lastPass }
    public var lastPassError: String? { snapshot.current.lastPassError }
    public var passes: Int { snapshot.current.passes }
    public var passesGaveWay: Int { snapshot.current.passesGaveWay }
    /// Whether a pass is under way now.
    public var passRunning: Bool { snapshot.current.passRunning }
    public var verify: VerifyResult? { snapshot.current.verify }
    public func site(_ name: String) -> SiteObservation? { snapshot.current.sites[name] }
    public var sites: [String: SiteObservation] { snapshot.current.sites }

    func setLoaded(_ loaded: InterlockInstance.LoadedState) {
        snapshot.withLock {
            $0.loaded = loaded
            $0.loadError = nil
        }
    }

    func setLoadError(_ message: String) { snapshot.withLock { $0.loadError = message } }

    /// Records the outcome of planning each site (what `interlock status` reports).
    func record(_ summaries: [SitePlanning.Summary], at now: Date) {
        snapshot.withLock { snap in
            for summary in summaries {
                let name = summary.site.name
                var observation = SiteObservation(
                    condition: summary.condition, drift: [], pendingPlan: nil, managedResources: 0, problem: nil, observedAt: now,
                    lastSuccessfulReconcile: snap.sites[name]?.lastSuccessfulReconcile)
                if let plan = summary.plan {
                    observation.drift = plan.drift
                    observation.pendingPlan = plan.isEmpty ? nil : plan
                    observation.managedResources = summary.managedResources
                    observation.lastSuccessfulReconcile = now
                } else if let error = summary.error {
                    observation.problem = error.message
                } else {
                    observation.problem = "\(summary.diagnostics.count) problem(s) in the desired state"
                }
                snap.sites[name] = observation
            }
        }
    }

    func startPass() { snapshot.withLock { $0.passRunning = true } }

    func finishPass(at now: Date, error: String?, gaveWay: Bool = false) {
        snapshot.withLock {
            $0.lastPass = now
            $0.lastPassError = error
            $0.passes += 1
            if gaveWay { $0.passesGaveWay += 1 }
            $0.passRunning = false
        }
    }

    func setVerify(_ result: VerifyResult) { snapshot.withLock { $0.verify = result } }
}
