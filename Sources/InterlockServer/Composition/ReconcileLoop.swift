import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore
import Logging
import ServiceLifecycle

/// The reconciler as a service: at every poll interval (or when triggered) one pass — recover interrupted
/// applies, reconcile every site, apply ready changes, observe the sites — exactly what `interlock run`
/// does per pass. A pass runs on its own thread and is never interrupted: on SIGTERM the loop lets the
/// pass in progress (an apply, say) finish, then stops.
public final class ReconcileLoop: Service, Sendable {
    public let instance: InterlockInstance
    public let observations: Observations
    public let metrics: ServerMetrics
    public let interval: Duration
    /// How often the audit log is verified in the background (the result feeds `/metrics` and the audit page).
    public let verifyInterval: TimeInterval
    let logger: Logger
    private let wakeUp = WakeUp()
    private let queue = DispatchQueue(label: "interlock.reconcile")

    public init(instance: InterlockInstance, observations: Observations, metrics: ServerMetrics, interval: Duration,
                verifyInterval: TimeInterval = 3600, logger: Logger = Logger(label: "interlock.reconcile")) {
        self.instance = instance
        self.observations = observations
        self.metrics = metrics
        self.interval = interval
        self.verifyInterval = verifyInterval
        self.logger = logger
    }

    /// Asks for a pass as soon as possible (after an approval, or from an operator).
    public func trigger() { wakeUp.signal() }

    /// Pushes the git host announced since the current pass read the repository (the commits they claim; nil: not
    /// said), when the last pass that reached every site ended, and whether every commit's changed sites were
    /// reached by a pass (false after a failed pass: the reader moved on, and what that commit changed is not
    /// reported again).
    private let pushes = Locked<(claimed: [String?], lastComplete: ContinuousClock.Instant?, changesReached: Bool)>(([], nil, true))

    /// A signed push webhook: a pass at once and, when a pass is under way at an older commit, that pass gives way
    /// once it has queued the sites its own commit changed (the next one starts with the sites the push changed).
    /// A pass gives way only when one that reached every site — its gates and applies included — ended within the poll
    /// interval, so a stream of pushes cannot hold gates and applies back longer than the poll would.
    public func pushed(after commit: String?) {
        pushes.withLock { $0.claimed.append(commit) }
        wakeUp.signal()
    }

    /// The push the pass that read `loaded` gives way to, if any (see ``newerPush(among:read:history:known:)``).
    private func newerPush(than loaded: InterlockInstance.LoadedState, known: Locked<[String: Bool]>) -> String? {
        let claims = pushes.withLock { state -> [String?] in
            guard let last = state.lastComplete, ContinuousClock.now - last < interval else { return [] }
            return state.claimed
        }
        return Self.newerPush(among: claims, read: loaded.commitID, history: loaded.commit.history, known: known)
    }

    /// The first of `claims` (the commits pushes named) that the commit `read` does not contain: not fetched yet, or
    /// newer. A push that names no commit, or one the read contains already (a late delivery, a replayed body),
    /// asks for a pass but never makes one give way (without a history to tell, any other commit counts as newer). `known`
    /// keeps each claim's answer for the pass, which asks once per site.
    static func newerPush(among claims: [String?], read: String?, history: (any CommitHistory)?, known: Locked<[String: Bool]>) -> String? {
        for case let claim? in claims where claim != read {
            if let newer = known.withLock({ $0[claim] }) {
                if newer { return claim }
                continue
            }
            // Contained in the commit read: nothing reachable from the claim that the read does not reach.
            let contained = read.flatMap { read in history?.commits(from: read, to: claim, limit: 1) }?.isEmpty == true
            known.withLock { $0[claim] = !contained }
            if !contained { return claim }
        }
        return nil
    }

    public func run() async throws {
        logger.info("reconciling \(instance.source) every \(interval); state in \(instance.store.location)")
        // On a shared store, a change another replica commits (an approval, a claim) wakes this loop at once.
        let watcher = (instance.store as? any ChangeNotifying)?.watchChanges { [weak self] in self?.trigger() }
        defer { watcher?.cancel() }
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await runPass()
            // Until the poll interval ends, a trigger (a push webhook, an approval, another replica's write) or shutdown.
            await withGracefulShutdownHandler {
                await wakeUp.sleep(upTo: interval)
            } onGracefulShutdown: { [wakeUp] in
                wakeUp.signal()
            }
        }
        logger.info("reconcile loop stopped after \(observations.passes) pass(es)")
    }

    /// Runs one pass on the loop's own thread; cancellation does not interrupt it.
    public func runPass() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.pass()
                continuation.resume()
            }
        }
    }

    /// One pass, synchronously.
    public func pass() {
        let clock = instance.clock
        let loaded: InterlockInstance.LoadedState
        // The read fetches whatever was pushed until now.
        pushes.withLock { $0.claimed.removeAll() }
        observations.startPass()
        do {
            loaded = try instance.loadDesiredState()
            observations.setLoaded(loaded)
        } catch {
            // The reader moved on: what this commit changed will not be reported again.
            pushes.withLock { $0.changesReached = false }
            observations.setLoadError(error.message)
            observations.finishPass(at: clock.now(), error: error.message)
            logger.error("pass failed: \(error.message); the queue is unchanged")
            return
        }
        do {
            let rollout = instance.rollout?(loaded.state)
            let executor = Executor(planning: instance.planning, store: instance.store, clock: clock, runHooks: instance.runHooks, rollout: rollout)
            for note in try executor.recoverInterrupted(loaded.state, stateAt: { [instance] in instance.state(at: $0) }) { logger.notice("recovered \(note)") }
            if instance.runHooks, let rollout {
                for note in try BakeMonitor(planning: instance.planning, rollout: rollout, clock: clock, stateAt: { [instance] in instance.state(at: $0) }).check(loaded.state) { logger.info("bake: \(note)") }
            }
            // The sites the new commit changed are planned and queued first; every site's planning is kept for the
            // site pages (sites changed by an apply below are observed again).
            // When which sites changed is unknown (a first read, a change to what every site compiles from, or a
            // failed pass before this one), every site is planned in order and the pass does not give way.
            let first = pushes.withLock { $0.changesReached } ? loaded.affectedSites : nil
            let planned = Locked<[SitePlanning.Summary]>([])
            let known = Locked<[String: Bool]>([:])
            let gaveWayTo = Locked<String?>(nil)
            var giveWay: (@Sendable () -> Bool)?
            if first != nil {
                giveWay = { [weak self] in
                    guard let claim = self?.newerPush(than: loaded, known: known) else { return false }
                    gaveWayTo.withLock { $0 = claim }
                    return true
                }
            }
            let outcome = try instance.reconciler(loaded.state).reconcilePass(
                loaded.state, commit: loaded.commit, first: first, observed: { summary in planned.withLock { $0.append(summary) } },
                giveWay: giveWay)
            // Every site of `first` was reached, whether the pass went on or gave way.
            pushes.withLock { $0.changesReached = true }
            for report in outcome.reports { for note in report.notes { logger.info("\(report.site): \(note)") } }
            guard outcome.complete else {
                // A newer push: its pass starts at once. Gates and applies wait for it (they are checked again anyway).
                instance.checkpoint()
                observations.record(planned.current, at: clock.now())
                observations.finishPass(at: clock.now(), error: nil, gaveWay: true)
                logger.notice("pass at \(loaded.commitID.map { String($0.prefix(10)) } ?? "working tree") gave way to a newer push (\(gaveWayTo.current.map { String($0.prefix(10)) } ?? "")) after \(outcome.reports.count) of \(loaded.state.sites.count) site(s)")
                return
            }
            instance.checkpoint()
            let ready = try instance.store.changes(sites: [], statuses: [.ready], limit: nil).sorted { $0.createdAt < $1.createdAt }
            var touched: Set<String> = []
            for change in ready {
                guard let site = loaded.state.site(named: change.site) else { continue }
                let started = ContinuousClock.now
                let outcome = try executor.apply(change, site: site, state: loaded.state)
                let label: String
                switch outcome {
                case .applied(let applied): label = "applied"; logger.notice("applied \(applied.id)")
                case .rolledBack(let back, let reason): label = "rolled-back"; logger.warning("\(back.id) rolled back: \(reason)")
                case .skipped(let id, let reason): label = "skipped"; logger.info("\(id) not applied: \(reason)")
                }
                // A skipped apply re-observed the site too (and may have found it changed): observe it again as well.
                touched.insert(change.site)
                if label != "skipped" { metrics.recordApply(site: change.site, outcome: label, duration: ContinuousClock.now - started) }
            }
            instance.checkpoint()
            let again = loaded.state.sites.filter { touched.contains($0.name) }
            let observedAgain = instance.planning.summaries(again, in: loaded.state).map(\.withoutContents)
            observations.record(planned.current.filter { !touched.contains($0.site.name) } + observedAgain, at: clock.now())
            observations.finishPass(at: clock.now(), error: nil)
            pushes.withLock { $0.lastComplete = ContinuousClock.now }
        } catch {
            pushes.withLock { $0.changesReached = false }
            observations.finishPass(at: clock.now(), error: "\(error)")
            logger.error("pass failed: \(error); retrying at the next interval")
        }
        if (observations.verify.map { Date().timeIntervalSince($0.at) >= verifyInterval } ?? true) {
            _ = try? verifyAuditLog()
        }
    }

    /// Verifies the whole audit log with the configured trust and remembers the result.
    @discardableResult
    public func verifyAuditLog() throws -> AuditVerification {
        let trust = try instance.checkpointTrust()
        var result = try instance.store.verify(trust: trust, keptCheckpoints: [])
        if trust.isExternal { result.requireAnchoring(maximumUnanchored: 100) }
        observations.setVerify(Observations.VerifyResult(
            ok: result.ok, anchored: result.anchored, records: result.recordCount, headHash: result.headHash, problemCount: result.problemCount,
            firstProblem: result.firstProblem?.description, notes: result.notes, at: Date()))
        return result
    }
}
