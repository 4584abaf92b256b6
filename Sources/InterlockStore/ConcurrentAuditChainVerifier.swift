import Dispatch

/// An ``AuditChainVerifier`` that recomputes the records' own hashes on another core, a batch at a time, while the
/// caller reads the next batch. A record's hash depends only on its stored fields, so batches hash independently;
/// links, sequence and time are still checked in order, with the same results and diagnostics.
///
/// Memory stays flat: at most two batches are held (the one being filled and the one being hashed).
struct ConcurrentAuditChainVerifier {
    /// Records per batch: enough to amortise the hand-over, few enough that a batch is still in cache when the other
    /// thread takes it (256 beat 2048 by about a third in the benchmark; 64 was no better).
    static let batchSize = 256

    private var verifier: AuditChainVerifier
    /// A queue of its own (not a global one): a user serial queue always gets a thread, so hashing cannot starve
    /// behind callers that block global-queue threads.
    private let hashingQueue = DispatchQueue(label: "interlock.audit-verify.hashing")
    private var filling = Batch()
    private var hashing: HashingBatch?

    init(checkpoints: [AuditCheckpoint], trust: CheckpointTrust) {
        verifier = AuditChainVerifier(checkpoints: checkpoints, trust: trust, coverage: .complete)
    }

    /// Takes the next stored row, read as a record or as the reason it could not be (rows must come in stored order).
    mutating func add(_ row: consuming Result<AuditRecord, AuditProblem>) {
        switch consume row {
        case .success(let record): filling.records.append(record)
        case .failure(let problem): filling.malformed.append((position: filling.records.count, problem))
        }
        if filling.records.count == Self.batchSize { handOver() }
    }

    /// Checks the rest and the checkpoints, and returns the result.
    mutating func finish() -> AuditVerification {
        handOver()
        collect()
        return verifier.finish()
    }

    /// Checks the chain of the batch being hashed, then starts hashing the batch just filled.
    private mutating func handOver() {
        collect()
        guard !filling.isEmpty else { return }
        hashing = HashingBatch(taking: &filling, on: hashingQueue)
    }

    private mutating func collect() {
        guard let batch = hashing else { return }
        hashing = nil
        var links = batch.takeLinks()
        var malformed = batch.malformed[...]
        var index = 0
        while let link = links.popLast() {
            while let (position, problem) = malformed.first, position == index {
                verifier.addMalformed(problem)
                malformed.removeFirst()
            }
            verifier.add(link)
            index += 1
        }
        for (_, problem) in malformed { verifier.addMalformed(problem) }
    }
}

/// Rows in stored order, kept as records plus the unreadable rows and where they were.
private struct Batch: Sendable {
    var records: [AuditRecord] = []
    /// Unreadable rows, each with the number of records read before it in this batch.
    var malformed: [(position: Int, AuditProblem)] = []

    init() { records.reserveCapacity(ConcurrentAuditChainVerifier.batchSize) }

    var isEmpty: Bool { records.isEmpty && malformed.isEmpty }
}

/// A batch whose records are being hashed on a background thread, which keeps only their ``AuditChainLink``s.
///
/// `@unchecked Sendable`: `records` and `links` are used only by the background thread until it leaves `done`;
/// `links` is read only after waiting on `done`.
private final class HashingBatch: @unchecked Sendable {
    let malformed: [(position: Int, AuditProblem)]
    private var records: [AuditRecord]
    private var links: [AuditChainLink] = []
    private let done = DispatchGroup()

    /// Starts hashing `batch`'s records, leaving `batch` empty. The records are swapped out, not copied: the
    /// background thread must hold the only reference to them to move them out.
    init(taking batch: inout Batch, on queue: DispatchQueue) {
        malformed = batch.malformed
        records = []
        swap(&records, &batch.records)
        batch = Batch()
        done.enter()
        queue.async { [self] in
            hash()
            done.leave()
        }
    }

    private func hash() {
        var hasher = AuditHasher()
        links.reserveCapacity(records.count)
        while let record = records.popLast() {
            links.append(AuditChainLink(record, hasher: &hasher))
        }
    }

    /// Waits for hashing to finish and takes the batch's records as chain links, newest first.
    ///
    /// Newest first because both threads take elements out from the back: `popLast` moves an element out of an
    /// array it alone references, where reading it in place would copy it (a retain per field, which showed in
    /// the profile).
    func takeLinks() -> [AuditChainLink] {
        done.wait()
        var taken: [AuditChainLink] = []
        swap(&taken, &links)
        return taken
    }
}
