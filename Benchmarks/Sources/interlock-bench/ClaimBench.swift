import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

/// `interlock-bench stores`, second part: several replicas racing to claim the same ready change, as they do when an
/// approval opens its gates. Each round queues a change, makes it ready, and lets every writer (a store and connection
/// of its own) claim it at once; exactly one may win. Measured: the winner's and the losers' claim latency (a claim is a
/// lease grant and the `apply.started` record, in one transaction), and how many rounds had one winner.
enum ClaimBench {
    struct Result {
        var store: String
        var writers: Int
        var rounds: Int
        var won: [Double]
        var lost: [Double]
        var doubleClaims: Int
        var seconds: Double
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    static func measure(_ url: DatabaseURL, label: String, writers: Int, seconds: Double) throws -> Result {
        let stores = try (0..<writers).map { _ in try AuditStores.open(url) }
        let site = "plant-claims-\(getpid())"
        var won: [Double] = [], lost: [Double] = []
        var rounds = 0, doubleClaims = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            let plan = Plan(site: site, commit: String(format: "%040x", rounds), liveFingerprint: "live-\(rounds)", desiredFingerprint: "desired-\(rounds)",
                            operations: [], drift: [])
            let queued = try stores[0].enqueue(NewChange(site: site, plan: plan, gate: .window, author: nil, commitSummary: "round \(rounds)"), events: [])
            let ready = try stores[0].transition(changeID: queued.change.id, from: [.waiting], to: .ready, reason: nil, events: [])
            let outcomes = Outcomes()
            DispatchQueue.concurrentPerform(iterations: writers) { writer in
                let event = AuditEvent(actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .apply, action: "apply.started",
                                       site: site, changeID: ready.id, planID: plan.id, before: "ready", after: "applying")
                let began = DispatchTime.now().uptimeNanoseconds
                do {
                    _ = try stores[writer].claim(changeID: ready.id, owner: "bench-replica-\(writer):\(getpid())", emergency: false, events: [event])
                    outcomes.add(won: Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6, writer: writer)
                } catch let error as ChangeStoreError where error.code == .conflict {
                    outcomes.add(lost: Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6)
                } catch {
                    outcomes.fail(error)
                }
            }
            if let failure = outcomes.failure { throw failure }
            guard let winner = outcomes.winners.first else { throw BenchError("\(label): round \(rounds): nobody won the claim") }
            if outcomes.winners.count > 1 { doubleClaims += 1 }
            won += outcomes.won
            lost += outcomes.lost
            let lease = try stores[winner].lease(changeID: ready.id)
            _ = try stores[winner].transition(changeID: ready.id, from: [.applying], to: .applied, reason: nil, events: [], baseline: nil, fence: lease?.fence)
            rounds += 1
        }
        return Result(store: label, writers: writers, rounds: rounds, won: won, lost: lost, doubleClaims: doubleClaims,
                      seconds: Date().timeIntervalSince(start))
    }

    static func report(_ results: [Result]) {
        print("")
        print("store                            writers   rounds  winner p50/p99 ms  loser p50/p99 ms  double claims")
        for r in results {
            print(r.store.padding(toLength: 32, withPad: " ", startingAt: 0)
                  + String(format: " %7d %8d %8.2f / %6.2f %8.2f / %6.2f %9d", r.writers, r.rounds, percentile(r.won, 0.5), percentile(r.won, 0.99),
                           percentile(r.lost, 0.5), percentile(r.lost, 0.99), r.doubleClaims))
        }
    }
}

private final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var won: [Double] = []
    private(set) var lost: [Double] = []
    private(set) var winners: [Int] = []
    private(set) var failure: (any Error)?

    func add(won latency: Double, writer: Int) {
        lock.lock(); defer { lock.unlock() }
        won.append(latency)
        winners.append(writer)
    }

    func add(lost latency: Double) {
        lock.lock(); defer { lock.unlock() }
        lost.append(latency)
    }

    func fail(_ error: any Error) {
        lock.lock(); defer { lock.unlock() }
        failure = error
    }
}
