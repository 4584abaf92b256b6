import Dispatch
import GRDB

/// An ``AuditChainVerifier`` for rows read from the database, which leaves the calling thread little to do but
/// step the statement: it copies each row as stored into a batch (``StoredRecordBatch``), and a worker thread
/// decodes the batches and recomputes their records' own hashes while it reads on. A record's hash depends only on
/// its stored fields, so batches are hashed independently; links, sequence and time are still checked in order,
/// on the calling thread, with the same results and diagnostics.
///
/// One worker: with the reading thread only copying, the two threads' work is about even (reading a little more),
/// and a second worker measured slower, its three threads contending for two cores.
///
/// Memory stays flat: at most ``batchesInFlight`` batches are out at once, each of at most ``batchSize`` rows and
/// about ``batchBytes`` bytes, and their buffers are reused.
struct ConcurrentAuditChainVerifier {
    /// Rows per batch: enough to amortise the hand-over, few enough that a batch is still in cache when the other
    /// thread takes it (in the benchmark 1,024 and 2,048 were slower, 64 and 128 no faster).
    static let batchSize = 256
    /// A batch is handed over early once its text holds this many bytes, so that huge rows do not grow the buffers.
    static let batchBytes = 1 << 20
    /// Batches handed over and not yet checked: one being worked on and some waiting, so that neither thread waits
    /// for the other over a batch that happens to cost more.
    static let batchesInFlight = 4

    private var verifier: AuditChainVerifier
    /// A queue of its own (not a global one): a user serial queue always gets a thread, so hashing cannot starve
    /// behind callers that block global-queue threads.
    private let worker = DispatchQueue(label: "interlock.audit-verify.worker")
    private var filling: HashingBatch
    /// Batches handed over, oldest first.
    private var handedOver: [HashingBatch] = []
    /// Checked batches, emptied, for reuse.
    private var spare: [HashingBatch] = []

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

    /// Hands the batch just filled to the worker, after checking the batches already done (waiting for the
    /// oldest when too many are out).
    private mutating func handOver() {
        guard filling.rows.count > 0 else { return }
        while let oldest = handedOver.first, handedOver.count >= Self.batchesInFlight || oldest.isDone { checkOldest() }
        filling.start(on: worker)
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
