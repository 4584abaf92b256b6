import Foundation

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
