import Foundation
import InterlockModel

/// Where recent commits stand in each wave and site: applied (and baking), waiting (for what), halted
/// (why), or not affected. What `interlock rollout status` and the console's rollout page show.
public struct RolloutOverview: Sendable {
    public struct Entry: Sendable {
        public var site: Site
        public var wave: String
        public var change: ChangeRequest?
        /// `applied`, `baking`, `waiting`, `ready`, `halted`, `no change`, or a change status.
        public var state: String
        public var detail: String
        /// Until when the site bakes the commit (state `baking`).
        public var bakeUntil: Date? = nil
    }

    public struct Commit: Sendable {
        public var id: String
        public var summary: String?
        public var entries: [Entry]
    }

    public var commits: [Commit]
    public var waves: [RolloutWave]

    /// - Parameters:
    ///   - head: the commit being reconciled (listed first even before anything was queued for it).
    ///   - limit: how many commits to show, newest first.
    public static func build(
        store: any ChangeStore, reconciler: Reconciler, graph: any CommitGraph, state: DesiredState, head: String?, limit: Int, now: Date
    ) throws -> RolloutOverview {
        let all = try store.changes(sites: [], statuses: [], limit: 500)
        var order: [String] = []
        var summaries: [String: String] = [:]
        if let head { order.append(head) }
        for change in all {
            guard let commit = change.plan.commit else { continue }
            if !order.contains(commit) { order.append(commit) }
            if summaries[commit] == nil { summaries[commit] = change.commitSummary }
        }
        let waves = state.config.wavesDeclared ? state.config.waves
            : [RolloutWave(name: "all", sites: state.sites.map(\.name), location: SourceLocation(file: RepositoryConfig.fileName))]
        var result: [Commit] = []
        for commit in order.prefix(limit) {
            var entries: [Entry] = []
            for wave in waves {
                for name in wave.sites {
                    guard let site = state.site(named: name) else { continue }
                    let zone = SiteTimeZone(site.timeZone ?? TimeZone(identifier: "UTC")!)
                    func when(_ date: Date) -> String { "\(zone.siteTimeText(date)) (\(SiteTimeZone.utcText(date)))" }
                    let history = all.filter { $0.site == name }
                    if let own = history.first(where: { $0.plan.commit == commit }) {
                        switch own.status {
                        case .applied:
                            let until = own.updatedAt.addingTimeInterval(TimeInterval(wave.bake?.seconds ?? 0))
                            let baking = until > now ? ", baking until \(when(until))" : (wave.bake.map { ", baked \($0)" } ?? "")
                            entries.append(Entry(site: site, wave: wave.name, change: own, state: until > now ? "baking" : "applied",
                                                 detail: "\(own.id) applied at \(when(own.updatedAt))\(baking)", bakeUntil: until > now ? until : nil))
                        case .waiting, .ready:
                            let waveState = try reconciler.waveState(of: own, site: site, state: state)
                            let gates = GateEvaluator.evaluate(own, rules: try GateRules.resolve(site, proposedConfig: state.config, store: store), at: now, wave: waveState)
                            if case .halted(let why)? = waveState {
                                entries.append(Entry(site: site, wave: wave.name, change: own, state: "halted", detail: "\(own.id) halted: \(why)"))
                            } else {
                                entries.append(Entry(site: site, wave: wave.name, change: own, state: own.status.rawValue,
                                                     detail: gates.isOpen ? "\(own.id) ready" : "\(own.id) waiting for " + gates.waitingFor.joined(separator: "; ")))
                            }
                        default:
                            entries.append(Entry(site: site, wave: wave.name, change: own, state: own.status.rawValue,
                                                 detail: "\(own.id) \(own.status.rawValue) at \(when(own.updatedAt))\(own.statusReason.map { ": \($0)" } ?? "")"))
                        }
                    } else if let later = history.first(where: { $0.status == .applied && $0.plan.commit.map { graph.contains(commit, in: $0) } == true }) {
                        entries.append(Entry(site: site, wave: wave.name, change: later, state: "applied",
                                             detail: "contained in \(later.id) (commit \(later.plan.commit!.prefix(10))) applied at \(when(later.updatedAt))"))
                    } else {
                        entries.append(Entry(site: site, wave: wave.name, change: nil, state: "no change",
                                             detail: "no change queued for this commit (not affected, or not reconciled yet)"))
                    }
                }
            }
            result.append(Commit(id: commit, summary: summaries[commit], entries: entries))
        }
        return RolloutOverview(commits: result, waves: waves)
    }

    /// The overview as JSON (for `--json` and the HTTP API).
    public var json: Value {
        .array(commits.map { commit in
            .object([
                "commit": .string(commit.id), "summary": commit.summary.map(Value.string) ?? .null,
                "waves": .array(waves.map { wave in
                    .object([
                        "name": .string(wave.name), "bake": wave.bake.map { .string($0.description) } ?? .null,
                        "sites": .array(commit.entries.filter { $0.wave == wave.name }.map { entry in
                            .object(["site": .string(entry.site.name), "state": .string(entry.state), "detail": .string(entry.detail),
                                     "change": entry.change.map { .string($0.id) } ?? .null])
                        }),
                    ])
                }),
            ])
        })
    }
}
