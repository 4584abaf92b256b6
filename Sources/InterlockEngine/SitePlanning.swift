import Foundation
import InterlockModel

/// Composes compile → observe → plan for one site. The one place that turns a desired state and a
/// site's target into a plan; commands and the reconciler call it.
public struct SitePlanning: Sendable {
    /// The directory relative `files` roots resolve against.
    public var targetBase: String
    /// The directory relative command-driver programs resolve against.
    public var workingDirectory: String?
    /// Lines of context in text diffs.
    public var diffContext: Int
    /// Where targets may point; nil allows any target (library use and tests; the CLI and the service always set one).
    public var targetPolicy: TargetPolicy?
    /// The live states agents reported, for sites reached through their agent (nil: such sites are unreachable).
    public var agentObservations: (any AgentObservationSource)?

    public init(targetBase: String, workingDirectory: String? = nil, diffContext: Int = 3, targetPolicy: TargetPolicy? = nil) {
        self.targetBase = targetBase
        self.workingDirectory = workingDirectory
        self.diffContext = diffContext
        self.targetPolicy = targetPolicy
    }

    /// The site's target as the plan shows it: the driver and the absolute root or the command line.
    public func absoluteTarget(of site: Site) -> String {
        if site.reach == .agent { return site.targetDescription }
        return switch site.target {
        case .files(let root): "files \(TargetPolicy.absoluteRoot(root, targetBase: targetBase))"
        case .command(let spec): "command \(spec.arguments.joined(separator: " "))"
        }
    }

    /// The outcome of planning one site.
    public enum Outcome: Sendable {
        /// The site's desired state does not compile; nothing was observed.
        case invalid(site: Site, diagnostics: [Diagnostic])
        /// The target could not be observed.
        case unreachable(site: Site, error: DriverError)
        case planned(desired: CompiledSite, live: LiveState, plan: Plan)

        public var site: Site {
            switch self {
            case .invalid(let site, _), .unreachable(let site, _): site
            case .planned(let desired, _, _): desired.site
            }
        }
    }

    /// Environment for a site's reload and health commands: a files target's root as `INTERLOCK_TARGET_ROOT`.
    func hookEnvironment(for site: Site) -> [String: String] {
        guard site.reach == .server, case .files(let root) = site.target else { return [:] }
        return ["INTERLOCK_TARGET_ROOT": TargetPolicy.absoluteRoot(root, targetBase: targetBase)]
    }

    public func driver(for site: Site) -> any SiteDriver {
        DriverFactory.driver(for: site, targetBase: targetBase, workingDirectory: workingDirectory)
    }

    public func plan(_ site: Site, in state: DesiredState) -> Outcome {
        let compilation = state.compile(site: site)
        let errors = compilation.diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty else { return .invalid(site: site, diagnostics: errors) }
        if site.reach == .agent { return planFromAgent(site, compilation.site) }
        if let refusal = targetPolicy?.check(site, targetBase: targetBase) ?? overlap(of: site, in: state) {
            return .invalid(site: site, diagnostics: [refusal])
        }
        do {
            let live = try driver(for: site).observe(desired: compilation.site.resources)
            return .planned(desired: compilation.site, live: live, plan: Planner.plan(desired: compilation.site, live: live, context: diffContext))
        } catch let error as DriverError {
            return .unreachable(site: site, error: error)
        } catch {
            return .unreachable(site: site, error: DriverError(.failed, site: site.name, "\(error)"))
        }
    }

    /// A site reached through its agent: planned against the live state the agent last reported, when the agent
    /// observed the same desired resources (else it is waiting for the agent, which the server tells at once).
    func planFromAgent(_ site: Site, _ desired: CompiledSite) -> Outcome {
        let observation: AgentObservation?
        do {
            observation = try agentObservations?.observation(site: site.name)
        } catch {
            return .unreachable(site: site, error: DriverError(.failed, site: site.name, "cannot read the agent's report of \(site.name): \(error)"))
        }
        guard let observation else {
            return .unreachable(site: site, error: DriverError(
                .unreachable, site: site.name, "\(site.name) is reached through its agent, which has not reported the site's live state yet",
                hint: "enrol the plant's agent and start it ('interlock agent enrol --site \(site.name)', docs/agent.md)"))
        }
        guard observation.desiredVersion == AgentObservation.desiredVersion(of: desired.resources) else {
            return .unreachable(site: site, error: DriverError(
                .unreachable, site: site.name, "waiting for the agent of \(site.name) to observe the site against the current desired state",
                hint: "the agent is told at its next poll; check that it is running ('interlock agent list')"))
        }
        return .planned(desired: desired, live: observation.live, plan: Planner.plan(desired: desired, live: observation.live, context: diffContext))
    }

    /// Why `site`'s files root overlaps another site's (one inside the other, or the same directory), or nil: a site
    /// could otherwise write — and through its own gates — the files another site's gates protect.
    func overlap(of site: Site, in state: DesiredState) -> Diagnostic? {
        guard site.reach == .server, case .files(let root) = site.target else { return nil }
        let mine = TargetPolicy.absoluteRoot(root, targetBase: targetBase)
        let index = RootIndex.of(state, targetBase: targetBase)
        guard let (other, theirs) = index.overlapping(mine, except: site.name) else { return nil }
        return Diagnostic(
            "target-overlaps", at: SourceLocation(file: site.file), field: "target.root",
            "the target root \(mine) overlaps \(other)'s root \(theirs)",
            hint: "give every site a directory of its own, neither inside nor around another site's")
    }

    /// Sites planned at once per core: observing a target waits on its file system (or its command, or its broker),
    /// so more sites in flight than cores keep the cores busy meanwhile. Three per core planned the 100 sites of the
    /// medium benchmark about 12 % faster than one per core.
    static let workersPerCore = 3

    /// Plans several sites, on all cores; outcomes come back in the order of `sites`. A site that fails does
    /// not stop the others.
    public func plan(_ sites: [Site], in state: DesiredState) -> [Outcome] {
        ParallelMap.map(sites, workersPerCore: Self.workersPerCore) { plan($0, in: state) }
    }

    /// Plans the sites of an outline on all cores, one site's definitions in memory per worker. Each outcome is
    /// reduced by `reduce` on the worker that planned it (render it, keep what is needed of it), and the reduced
    /// results reach `deliver` in the order of `sites`, as soon as they are ready.
    public func plan<Reduced: Sendable>(
        _ sites: [Site], in outline: DesiredStateOutline, reduce: @Sendable (Outcome) -> Reduced, deliver: (Reduced) -> Void
    ) {
        let state = outline.state
        ParallelMap.forEach(sites, workersPerCore: Self.workersPerCore, { reduce(plan($0, in: state)) }, deliver: deliver)
    }

    /// Plans a site of an outline: reads its definitions, compiles, observes and plans. Problems in its definitions
    /// or overrides, or files that cannot be read, make the site invalid like a compilation error; other sites are
    /// not affected.
    public func plan(_ site: Site, in outline: DesiredStateOutline) -> Outcome {
        plan(site, in: outline.state)
    }
}

extension SitePlanning {
    /// What a pass over the fleet keeps of a site's planning: the plan, not the compiled resources and live file
    /// contents it was computed from, so that a pass over a thousand sites holds plans rather than every site's
    /// configuration twice over.
    public struct Summary: Sendable {
        public var site: Site
        public var condition: SiteCondition
        /// When the site was planned.
        public var plan: Plan?
        /// Resources the target holds that Interlock manages (when planned).
        public var managedResources: Int
        /// When the site does not compile.
        public var diagnostics: [Diagnostic]
        /// When its target could not be observed.
        public var error: DriverError?

        /// The summary with its plan's file contents dropped: what a service keeps for every site between passes.
        public var withoutContents: Summary {
            var copy = self
            copy.plan = plan?.withoutContents
            return copy
        }

        public init(_ outcome: Outcome) {
            site = outcome.site
            condition = SiteCondition(outcome)
            plan = nil
            managedResources = 0
            diagnostics = []
            error = nil
            switch outcome {
            case .invalid(_, let problems): diagnostics = problems
            case .unreachable(_, let failure): error = failure
            case .planned(_, let live, let planned):
                plan = planned
                managedResources = live.resources.values.filter(\.managed).count
            }
        }
    }

    /// Plans several sites on all cores and keeps each one's summary; in the order of `sites`.
    public func summaries(_ sites: [Site], in state: DesiredState) -> [Summary] {
        ParallelMap.map(sites, workersPerCore: Self.workersPerCore) { Summary(plan($0, in: state)) }
    }
}

/// How a site stands, as `interlock status` reports it.
public enum SiteCondition: String, Sendable, Hashable, Codable {
    case inSync = "in-sync"
    case changesPending = "changes-pending"
    case drifted
    case invalid
    case unreachable

    public init(_ outcome: SitePlanning.Outcome) {
        switch outcome {
        case .invalid: self = .invalid
        case .unreachable: self = .unreachable
        case .planned(_, _, let plan):
            self = !plan.drift.isEmpty ? .drifted : plan.isEmpty ? .inSync : .changesPending
        }
    }
}

/// The `files` roots of every site of a desired state, for finding overlaps in logarithmic time; the index of the
/// last state asked about is kept (a pass plans every site of one state).
final class RootIndex: @unchecked Sendable {
    private let sorted: [(root: String, site: String)]
    private let bySite: [String: [String]]

    private init(state: DesiredState, targetBase: String) {
        var roots: [(root: String, site: String)] = []
        for site in state.sites {
            if site.reach == .server, case .files(let root) = site.target { roots.append((TargetPolicy.absoluteRoot(root, targetBase: targetBase), site.name)) }
        }
        sorted = roots.sorted { $0.root < $1.root }
        bySite = Dictionary(grouping: roots, by: \.root).mapValues { $0.map(\.site) }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var last: (key: String, index: RootIndex)?

    static func of(_ state: DesiredState, targetBase: String) -> RootIndex {
        // A commit's sites do not change; a working tree's are indexed each time.
        guard let commit = state.commitID else { return RootIndex(state: state, targetBase: targetBase) }
        let key = "\(commit)|\(targetBase)|\(state.sites.count)"
        lock.lock()
        defer { lock.unlock() }
        if let last, last.key == key { return last.index }
        let index = RootIndex(state: state, targetBase: targetBase)
        last = (key, index)
        return index
    }

    /// Another site whose root is `root`, contains it, or lies inside it.
    func overlapping(_ root: String, except site: String) -> (site: String, root: String)? {
        // The same directory, or one around it: each ancestor of `root` (and `root` itself).
        var path = root
        while true {
            if let other = bySite[path]?.first(where: { $0 != site }) { return (other, path) }
            guard let slash = path.lastIndex(of: "/"), slash > path.startIndex else { break }
            path = String(path[..<slash])
        }
        if let other = bySite["/"]?.first(where: { $0 != site }) { return (other, "/") }
        // One inside it: the first root after `root/` in sorted order.
        let prefix = root == "/" ? "/" : root + "/"
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle].root < prefix { low = middle + 1 } else { high = middle }
        }
        while low < sorted.count, sorted[low].root.hasPrefix(prefix) {
            if sorted[low].site != site { return (sorted[low].site, sorted[low].root) }
            low += 1
        }
        return nil
    }
}
