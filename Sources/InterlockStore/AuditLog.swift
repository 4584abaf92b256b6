import Foundation
import InterlockEngine

/// The append-only, hash-chained audit log, whatever stores it (SQLite now, PostgreSQL later; both pass the same tests).
///
/// An append returns only once the record is durable. Concurrent appenders — threads or processes
/// sharing the store — never fork the chain or reuse a sequence number. Nothing updates or deletes a record.
public protocol AuditLog: Sendable {
    /// Validates `entry`, links it to the current head and stores it; returns the stored record.
    func append(_ entry: AuditEntry) throws -> AuditRecord
    /// Appends several entries in one transaction: all are stored, consecutively, or none.
    func append(contentsOf entries: [AuditEntry]) throws -> [AuditRecord]
    /// The records that match, ordered by sequence ascending.
    func records(matching query: AuditQuery) throws -> [AuditRecord]
    /// Calls `body` with each matching record, ascending, without holding them all (default: via `records(matching:)`).
    func forEachRecord(matching query: AuditQuery, _ body: (AuditRecord) throws -> Void) throws
    /// The record with this sequence number, if any.
    func record(sequence: Int64) throws -> AuditRecord?
    /// How many records the log holds.
    func count() throws -> Int64
    /// The newest record, or nil for an empty log.
    func head() throws -> AuditRecord?
    /// Signs the current head (log size and head hash) with `signingKey` and stores the checkpoint.
    ///
    /// Call it after every approval and every apply, and periodically (e.g. hourly) otherwise.
    func checkpoint(signingKey: AuditSigningKey) throws -> AuditCheckpoint
    /// Signs the current head with `signer` (the state directory's key or the signing helper) and stores the checkpoint.
    func checkpoint(signer: some CheckpointSigner) throws -> AuditCheckpoint
    /// Every stored checkpoint, oldest first.
    func checkpoints() throws -> [AuditCheckpoint]
}

extension AuditLog {
    /// Appends `entry` and checkpoints right after it: what callers do for approvals and applies.
    public func appendAndCheckpoint(_ entry: AuditEntry, signingKey: AuditSigningKey) throws -> (record: AuditRecord, checkpoint: AuditCheckpoint) {
        let record = try append(entry)
        return (record, try checkpoint(signingKey: signingKey))
    }

    /// Whether records of this category are followed by a checkpoint by ``appendRecordingPolicy(_:signingKey:)``.
    public static func checkpointsAfter(_ entry: AuditEntry) -> Bool {
        entry.category == .approval || entry.category == .apply
    }

    /// Appends `entry`, then checkpoints if it is an approval or an apply (the documented policy).
    @discardableResult
    public func appendRecordingPolicy(_ entry: AuditEntry, signingKey: AuditSigningKey?) throws -> AuditRecord {
        let record = try append(entry)
        if let signingKey, Self.checkpointsAfter(entry) { _ = try checkpoint(signingKey: signingKey) }
        return record
    }
}

/// Where audit timestamps come from. Injected, so tests can stand at any instant.
public protocol AuditClock: Sendable {
    func now() -> Date
}

/// The system's clock (keep it synchronised: auditors expect UTC from a synchronised clock).
public struct SystemAuditClock: AuditClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// An audit log with what the commands need besides appending and reading: verification from one snapshot, the
/// instance's settings, and the signing helper's view. ``SQLiteStore`` and ``PostgresStore`` conform and pass the same
/// conformance tests.
public protocol AuditStore: AuditLog {
    /// Recomputes the whole chain and checks every checkpoint (and those an auditor kept) from one snapshot.
    func verify(trust: CheckpointTrust, keptCheckpoints: [AuditCheckpoint]) throws -> AuditVerification
    /// A setting of the instance kept next to the log (nil when unset).
    func setting(_ key: String) throws -> String?
    /// Sets `values` and appends `entries` in one transaction.
    func setSettings(_ values: [String: String], entries: [AuditEntry]) throws
    /// Has the signing helper accept the log as it is now, without a signature.
    func show(to helper: SignerClient) throws
    /// The applied schema migrations, oldest first.
    func appliedMigrations() throws -> [String]
    /// Where the log is, for messages (a file path, or a database URL without its password).
    var location: String { get }
    /// Checks that the database answers (for `/readyz`); throws what is wrong.
    func ping() throws
    /// Every setting, for `interlock store copy`.
    func allSettings() throws -> [String: String]
    /// Stores records exactly as another store holds them (their sequences, times and hashes), for `interlock store
    /// copy`. Refused unless they continue this log's head: the first links to the head's hash, the sequences follow
    /// on, and each record's hash is its content's.
    func importRecords(_ records: [AuditRecord]) throws
    /// Stores checkpoints exactly as another store holds them, for `interlock store copy`.
    func importCheckpoints(_ checkpoints: [AuditCheckpoint], settings: [String: String]) throws
    /// The change queue's rows (changes, approvals, rollout decisions, baselines), for `interlock store copy`.
    func exportQueue() throws -> QueueTables.Snapshot
    /// Stores queue rows exactly as another store holds them, in one transaction; refused unless the queue is empty.
    func importQueue(_ snapshot: QueueTables.Snapshot) throws
}

extension AuditStore {
    /// Checks that `records` continue a log whose head is `head` (sequence and hash): what ``importRecords(_:)``
    /// requires before storing anything.
    static func checkContinues(_ records: [AuditRecord], head: (sequence: Int64, hash: String)?) throws {
        var sequence = head?.sequence ?? 0
        var hash = head?.hash ?? AuditRecord.genesisHash
        var hasher = AuditHasher()
        for record in records {
            guard record.sequence == sequence + 1 else {
                throw AuditStoreError(.corruptRecord, "record \(record.sequence) does not follow record \(sequence): only a whole, gapless log can be copied")
            }
            guard record.previousHash == hash else {
                throw AuditStoreError(.corruptRecord, "record \(record.sequence) does not link to record \(sequence)'s hash: the chain is broken there")
            }
            guard hasher.isIntact(record) else {
                throw AuditStoreError(.corruptRecord, "record \(record.sequence)'s hash is not the hash of its content: it was changed")
            }
            sequence = record.sequence
            hash = record.hash
        }
    }
}

extension SQLiteStore: AuditStore {
    public var location: String { path }
}

extension PostgresStore: AuditStore {
    public var location: String { target.redacted }
}

/// A store several processes share, that tells them when one of them changed the queue.
public protocol ChangeNotifying: AnyObject, Sendable {
    /// Calls `onChange` after every queue change any process commits, and once after every (re)connection, since
    /// notifications sent while disconnected are lost. Runs, reconnecting with back-off, until the task is cancelled.
    func watchChanges(_ onChange: @escaping @Sendable () -> Void) -> Task<Void, Never>
}

/// The whole state of an instance: the audit log, the change queue, rollout decisions and console sessions, in one database whose
/// transactions keep them consistent. ``SQLiteStore`` and ``PostgresStore`` are both.
public typealias StateStore = AuditStore & RolloutStore & ConsoleSessionStore & AgentRegistry & NotificationOutbox

/// Opens the store a database URL names.
public enum AuditStores {
    /// `sqlite:PATH` or `postgres://…`; the PostgreSQL schema migrates itself, as the SQLite one does.
    /// - Parameter migrate: false to read an existing log only: a PostgreSQL database is then neither created nor
    ///   changed (a read-only role can verify it).
    public static func open(
        _ url: DatabaseURL, clock: any AuditClock = SystemAuditClock(), leaseDuration: TimeInterval = SQLiteStore.defaultLeaseDuration,
        migrate: Bool = true
    ) throws -> any StateStore {
        switch url {
        case .sqlite(let path):
            return try SQLiteStore(path: path, clock: clock, leaseDuration: leaseDuration)
        case .postgres(let target):
            return try PostgresStore(target, clock: clock, leaseDuration: leaseDuration, migrate: migrate)
        }
    }
}
