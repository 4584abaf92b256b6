import Dispatch
import GRDB

/// An ``AuditChainVerifier`` for rows read from the database, which leaves the calling thread little to do but
/// step the statement: it copies each row as stored into a batch (``StoredRecordBatch``), and two worker threads
/// decode the batches and recompute their records' own hashes while it reads on. A record's hash depends only on
/// its stored fields, so batches are checked independently; links, sequence and time are still checked in order,
/// on the calling thread, with the same results and diagnostics.
///
/// Two workers rather than one: decoding and hashing cost more than reading, so with one worker the reader waits
/// for it; with two, the three threads keep both cores busy however the work splits on a given log.
///
/// Memory stays flat: at most ``batchesInFlight`` batches are out at once, each of at most ``batchSize`` rows and
/// about ``batchBytes`` bytes, and their buffers are reused.
struct ConcurrentAuditChainVerifier {
    /// Rows per batch: enough to amortise the hand-over, few enough that a batch is still in cache when the other
    /// thread takes it (256 beat 2048 by about a third in the benchmark; 64 was no better).
    static let batchSize = 256
    /// A batch is handed over early once its text holds this many bytes, so that huge rows do not grow the buffers.
    static let batchBytes = 1 << 20
    /// Batches handed over and not yet checked: one being worked on and one waiting, per worker.
    static let batchesInFlight = 4

    private var verifier: AuditChainVerifier
    /// Queues of their own (not global ones): a user serial queue always gets a thread, so hashing cannot starve
    /// behind callers that block global-queue threads. Batches go to them in turn.
    private let workers = [
        DispatchQueue(label: "interlock.audit-verify.worker-1"), DispatchQueue(label: "interlock.audit-verify.worker-2"),
    ]
    private var filling: HashingBatch
    /// Batches handed over, oldest first.
    private var handedOver: [HashingBatch] = []
    /// Checked batches, emptied, for reuse.
    private var spare: [HashingBatch] = []
    private var handOverCount = 0

    /// - Parameter columnNames: the names the statement reports for ``AuditSchema/recordColumns``, for diagnostics.
    init(checkpoints: [AuditCheckpoint], trust: CheckpointTrust, columnNames: [String]) {
        verifier = AuditChainVerifier(checkpoints: checkpoints, trust: trust, coverage: .complete)
        filling = HashingBatch(columnNames: columnNames)
    }

    /// Takes the current row of `statement`, which selects ``AuditSchema/recordColumns`` (rows must come in stored
    /// order).
    mutating func add(currentRowOf statement: SQLiteStatement) {
        filling.rows.append(currentRowOf: statement)
        if filling.rows.isFull || filling.rows.byteCount >= Self.batchBytes { handOver() }
    }

    /// Checks the rest and the checkpoints, and returns the result.
    mutating func finish() -> AuditVerification {
        handOver()
        while !handedOver.isEmpty { checkOldest() }
        return verifier.finish()
    }

    /// Hands the batch just filled to the next worker, after checking the batches already done (waiting for the
    /// oldest when too many are out).
    private mutating func handOver() {
        guard filling.rows.count > 0 else { return }
        while let oldest = handedOver.first, handedOver.count >= Self.batchesInFlight || oldest.isDone { checkOldest() }
        filling.start(on: workers[handOverCount % workers.count])
        handOverCount += 1
        handedOver.append(filling)
        filling = spare.popLast() ?? HashingBatch(columnNames: filling.rows.columnNames)
    }

    /// Waits for the oldest batch handed over and checks its links in order.
    private mutating func checkOldest() {
        let batch = handedOver.removeFirst()
        batch.waitUntilDone()
        while let outcome = batch.popOldestOutcome() {
            switch outcome {
            case .success(let link): verifier.add(link)
            case .failure(let problem): verifier.addMalformed(problem)
            }
        }
        batch.rows.removeAll()
        spare.append(batch)
    }
}

/// A batch of stored rows and, once a worker has been through them, each row's chain link or problem.
///
/// `@unchecked Sendable`: one thread at a time uses it. The reading thread fills it and hands it to a worker with
/// ``start(on:)``, and touches it again only after ``waitUntilDone()``.
private final class HashingBatch: @unchecked Sendable {
    let rows: StoredRecordBatch
    /// Newest first: `popLast` moves an element out of an array it alone references, where reading it in place
    /// would copy it (a retain per string, which showed in the profile).
    private var outcomes: [Result<AuditChainLink, AuditProblem>] = []
    private var hasher = AuditHasher()
    private let done = DispatchGroup()

    init(columnNames: [String]) {
        rows = StoredRecordBatch(columnNames: columnNames, rowCapacity: ConcurrentAuditChainVerifier.batchSize)
        outcomes.reserveCapacity(ConcurrentAuditChainVerifier.batchSize)
    }

    /// Starts decoding and hashing the rows on `queue`.
    func start(on queue: DispatchQueue) {
        done.enter()
        queue.async { [self] in
            rows.appendLinks(to: &outcomes, hasher: &hasher)
            done.leave()
        }
    }

    /// Whether the worker has finished, without waiting.
    var isDone: Bool { done.wait(timeout: .now()) == .success }

    func waitUntilDone() { done.wait() }

    /// The outcome of the oldest row not yet taken, after ``waitUntilDone()``.
    func popOldestOutcome() -> Result<AuditChainLink, AuditProblem>? { outcomes.popLast() }
}
