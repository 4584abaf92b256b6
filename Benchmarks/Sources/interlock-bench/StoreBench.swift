import Foundation
import InterlockStore

/// `interlock-bench stores`: several writers appending durably to one audit log at once, on the SQLite file and on
/// PostgreSQL, in the same run: single-record appends/s, batched records/s, p99 append latency. Each writer has a
/// store (and connection) of its own, as replicas of `interlock serve` do.
enum StoreBench {
    struct Result {
        var store: String
        var mode: String
        var writers: Int
        var records: Int
        var appends: Int
        var seconds: Double
        var latencies: [Double]

        var recordsPerSecond: Double { Double(records) / seconds }
        var appendsPerSecond: Double { Double(appends) / seconds }
        func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }
    }

    static func entry(writer: Int, n: Int) -> AuditEntry {
        AuditEntry(
            actor: AuditActor(id: "bench-\(writer)", name: "Writer \(writer)", role: "benchmark", authentication: "system"),
            category: .plan, action: "plan.computed", site: "plant-\(writer % 3)", changeID: "chg-\(n)", planID: "plan-\(n)",
            details: ["operations": String(n % 17), "writer": String(writer)])
    }

    /// `writers` threads append for `seconds`, `batch` records per append.
    static func measure(_ url: DatabaseURL, label: String, writers: Int, batch: Int, seconds: Double) throws -> Result {
        let stores = try (0..<writers).map { _ in try AuditStores.open(url) }
        let totals = Totals()
        let start = Date()
        let deadline = start.addingTimeInterval(seconds)
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            var own: [Double] = []
            var n = 0
            do {
                while Date() < deadline {
                    let entries = (0..<batch).map { entry(writer: writer, n: n + $0) }
                    let began = DispatchTime.now().uptimeNanoseconds
                    n += try stores[writer].append(contentsOf: entries).count
                    own.append(Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6)
                }
            } catch {
                totals.fail(error)
            }
            totals.add(latencies: own, records: n)
        }
        if let failure = totals.failure { throw failure }
        let latencies = totals.latencies, records = totals.records
        let elapsed = Date().timeIntervalSince(start)
        let verification = try stores[0].verify(trust: .none, keptCheckpoints: [])
        guard verification.ok else { throw BenchError("\(label): the chain does not verify after the run: \(verification.problems.first?.message ?? "")") }
        return Result(store: label, mode: batch == 1 ? "single" : "batch \(batch)", writers: writers, records: records,
                      appends: latencies.count, seconds: elapsed, latencies: latencies)
    }

    static func run(postgres: String?, work: String, writers: Int, seconds: Double) throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var targets: [(String, DatabaseURL)] = []
        let sqlitePath = work + "/stores-bench-\(getpid()).db"
        targets.append(("SQLite (WAL, synchronous=FULL)", .sqlite(path: sqlitePath)))
        if let postgres { targets.append(("PostgreSQL", try DatabaseURL.parse(postgres))) }
        defer {
            for suffix in ["", "-wal", "-shm", ".migrate-lock"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) }
        }
        var results: [Result] = []
        for (label, url) in targets {
            for batch in [1, 100] {
                FileHandle.standardError.write(Data("[stores] \(label), \(writers) writers, \(batch == 1 ? "single" : "batch \(batch)") …\n".utf8))
                results.append(try measure(url, label: label, writers: writers, batch: batch, seconds: seconds))
            }
        }
        var claims: [ClaimBench.Result] = []
        for (label, url) in targets {
            FileHandle.standardError.write(Data("[stores] \(label), \(writers) replicas claiming one change at once …\n".utf8))
            claims.append(try ClaimBench.measure(url, label: label, writers: writers, seconds: seconds))
        }
        print("")
        print("store                            mode       writers  appends/s  records/s   p50 ms   p99 ms")
        for r in results {
            let name = r.store.padding(toLength: 32, withPad: " ", startingAt: 0) + " " + r.mode.padding(toLength: 10, withPad: " ", startingAt: 0)
            print(name + String(format: " %7d %10.0f %10.0f %8.2f %8.2f", r.writers, r.appendsPerSecond, r.recordsPerSecond,
                                r.percentile(0.5), r.percentile(0.99)))
        }
        ClaimBench.report(claims)
        if let doubled = claims.first(where: { $0.doubleClaims > 0 }) {
            throw BenchError("\(doubled.store): \(doubled.doubleClaims) rounds had more than one winner")
        }
    }
}

/// What the writer threads measured, gathered under a lock.
private final class Totals: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var latencies: [Double] = []
    private(set) var records = 0
    private(set) var failure: (any Error)?

    func add(latencies more: [Double], records count: Int) {
        lock.lock()
        latencies += more
        records += count
        lock.unlock()
    }

    func fail(_ error: any Error) {
        lock.lock()
        failure = error
        lock.unlock()
    }
}
