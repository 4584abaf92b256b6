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
    private let triggered = Locked(false)
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
    public func trigger() { triggered.withLock { $0 = true } }

    public func run() async throws {
        logger.info("reconciling \(instance.source) every \(interval); state in \(instance.store.location)")
        // On a shared store, a change another replica commits (an approval, a claim) wakes this loop at once.
        let watcher = (instance.store as? any ChangeNotifying)?.watchChanges { [weak self] in self?.trigger() }
        defer { watcher?.cancel() }
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await runPass()
            let deadline = ContinuousClock.now.advanced(by: interval)
            while ContinuousClock.now < deadline, !Task.isCancelled, !Task.isShuttingDownGracefully {
                if triggered.withLock({ let was = $0; $0 = false; return was }) { break }
                try? await Task.sleep(for: .milliseconds(200))
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
        do {
            loaded = try instance.loadDesiredState()
            observations.setLoaded(loaded)
        } catch {
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
            let reports = try instance.reconciler(loaded.state).reconcile(loaded.state, commit: loaded.commit)
            for report in reports { for note in report.notes { logger.info("\(report.site): \(note)") } }
            instance.checkpoint()
            let ready = try instance.store.changes(sites: [], statuses: [.ready], limit: nil).sorted { $0.createdAt < $1.createdAt }
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
                if label != "skipped" { metrics.recordApply(site: change.site, outcome: label, duration: ContinuousClock.now - started) }
            }
            instance.checkpoint()
            observations.record(instance.planning.summaries(loaded.state.sites, in: loaded.state), at: clock.now())
            observations.finishPass(at: clock.now(), error: nil)
        } catch {
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
