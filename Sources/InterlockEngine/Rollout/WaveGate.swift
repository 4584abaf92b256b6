import Foundation
import InterlockModel

/// Whether a change may start as far as the rollout waves are concerned.
public enum WaveState: Sendable, Hashable, CustomStringConvertible {
    /// No earlier wave to wait for (first wave, or the change has no commit).
    case notApplicable(String)
    /// Every earlier-wave site has applied the commit and baked, or is not affected by it.
    case passed([String])
    case waiting([String])
    /// An earlier wave failed with this commit; only `rollout resume` lets the change go on.
    case halted(String)

    public var allowsStart: Bool {
        switch self {
        case .notApplicable, .passed: true
        case .waiting, .halted: false
        }
    }

    public var description: String {
        switch self {
        case .notApplicable(let why): why
        case .passed(let notes): notes.isEmpty ? "earlier waves done" : notes.joined(separator: "; ")
        case .waiting(let reasons): reasons.joined(separator: "; ")
        case .halted(let why): "halted: \(why)"
        }
    }
}

/// Evaluates the wave gate of one change.
///
/// The rule, per commit: a change of site S for commit X waits until every site of every earlier wave
/// either (a) has applied X or a later commit containing X and stayed healthy for its wave's `bake`, or
/// (b) is not affected by X — its own plan at X is empty and it applied nothing containing X. So a
/// commit that only touches S (an override or a value of S) is not held behind other waves, while a
/// commit that changes a shared component waits for the pilot plants. A failed or rolled-back change
/// with commit X in an earlier wave halts X for every later wave until `rollout resume`; `rollout skip`
/// lets X pass the waves without waiting.
public struct WaveGate: Sendable {
    public var config: RepositoryConfig
    public var store: any RolloutStore
    public var graph: any CommitGraph
    /// The current plan of a site at the commit being reconciled (nil when it could not be planned).
    public var currentPlan: @Sendable (Site) -> Plan?

    public init(config: RepositoryConfig, store: any RolloutStore, graph: any CommitGraph, currentPlan: @escaping @Sendable (Site) -> Plan?) {
        self.config = config
        self.store = store
        self.graph = graph
        self.currentPlan = currentPlan
    }

    /// The wave state under the rollout of the commit being gated and, when the site has a trusted baseline whose
    /// rollout differs, under that one too: the stricter of the two (a commit cannot move its site to an earlier wave
    /// or shorten a bake to pass sooner).
    public func evaluate(_ change: ChangeRequest, site: Site, state: DesiredState, at now: Date) throws -> WaveState {
        let proposed = try evaluate(change, site: site, state: state, at: now, config: config)
        guard let trusted = try store.baseline(site: site.name).flatMap({ $0.files.read(site: site.name).config }),
              trusted.waves != config.waves || trusted.wavesDeclared != config.wavesDeclared
        else { return proposed }
        let old = try evaluate(change, site: site, state: state, at: now, config: trusted, missingSitesWait: true)
        return WaveState.stricter(old, proposed)
    }
}

extension WaveState {
    /// The state that lets less start: halted over waiting over passed over not applicable (waiting reasons are merged).
    public static func stricter(_ a: WaveState, _ b: WaveState) -> WaveState {
        func rank(_ state: WaveState) -> Int {
            switch state {
            case .notApplicable: 0
            case .passed: 1
            case .waiting: 2
            case .halted: 3
            }
        }
        if case .waiting(let x) = a, case .waiting(let y) = b { return .waiting(x + y.filter { !x.contains($0) }) }
        return rank(a) >= rank(b) ? a : b
    }
}

extension WaveGate {
    /// - Parameter missingSitesWait: an earlier-wave site that is no longer in the desired state holds the change
    ///   (under the trusted rollout: deleting the pilot plant must not let a change past its wave) until a rollout
    ///   owner decides with `rollout skip`.
    func evaluate(_ change: ChangeRequest, site: Site, state: DesiredState, at now: Date, config: RepositoryConfig, missingSitesWait: Bool = false) throws -> WaveState {
        guard config.wavesDeclared, let index = config.waves.firstIndex(where: { $0.sites.contains(site.name) }) else {
            return .notApplicable("no rollout waves")
        }
        guard index > 0 else { return .notApplicable("first wave (\(config.waves[index].name))") }
        guard let commit = change.plan.commit else { return .notApplicable("no commit (working tree): waves not applied") }
        let overrides = try store.rolloutOverrides(commit: commit)
        if overrides.contains(where: { $0.action == .skip }) {
            let skip = overrides.first { $0.action == .skip }!
            return .passed(["rollout skipped by \(skip.by.name): \(skip.reason)"])
        }
        let resumed = overrides.first { $0.action == .resume }
        var waiting: [String] = []
        var passed: [String] = []
        for wave in config.waves[..<index] {
            for name in wave.sites {
                guard let earlier = state.site(named: name) else {
                    if missingSitesWait {
                        waiting.append("\(name) (wave \(wave.name) as last applied) is no longer in the desired state; a rollout owner decides with 'interlock rollout skip'")
                    }
                    continue
                }
                let zone = SiteTimeZone(earlier.timeZone ?? TimeZone(identifier: "UTC")!)
                let history = try store.changes(sites: [name], statuses: [], limit: 50)
                if resumed == nil, let failed = history.first(where: { $0.plan.commit == commit && ($0.status == .failed || $0.status == .rolledBack) }) {
                    return .halted("\(name) failed at \(zone.siteTimeText(failed.updatedAt)) (\(SiteTimeZone.utcText(failed.updatedAt))): \(failed.statusReason ?? "no reason recorded")")
                }
                if let applied = history.first(where: { $0.status == .applied && $0.plan.commit.map { graph.contains(commit, in: $0) } == true }) {
                    let until = applied.updatedAt.addingTimeInterval(TimeInterval(wave.bake?.seconds ?? 0))
                    if until > now {
                        waiting.append("\(name) (wave \(wave.name)) applied \(String(commit.prefix(10))) and bakes until \(zone.siteTimeText(until)) (\(SiteTimeZone.utcText(until)))")
                    } else {
                        passed.append("\(name) applied it\(wave.bake.map { " and baked \($0)" } ?? "")")
                    }
                    continue
                }
                if let resumed, history.contains(where: { $0.plan.commit == commit && ($0.status == .failed || $0.status == .rolledBack) }) {
                    passed.append("\(name) failed, resumed by \(resumed.by.name): \(resumed.reason)")
                    continue
                }
                if let plan = currentPlan(earlier), plan.isEmpty, plan.commit == commit {
                    passed.append("\(name) is not affected by \(String(commit.prefix(10)))")
                    continue
                }
                waiting.append("\(name) (wave \(wave.name)) has not applied \(String(commit.prefix(10))) yet")
            }
        }
        return waiting.isEmpty ? .passed(passed) : .waiting(waiting)
    }
}
