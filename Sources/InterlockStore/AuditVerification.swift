import Foundation

/// The outcome of verifying an audit log or export: `ok` when no problem was found, else the problems,
/// the first bad record first. `notes` say honestly what the verification does *not* prove.
public struct AuditVerification: Sendable {
    /// No problem found.
    public var ok: Bool { problems.isEmpty }
    /// Records examined.
    public var recordCount: Int
    /// Sequence of the last record examined (0 when none).
    public var lastSequence: Int64
    /// Hash of the last record examined (64 zeros when none).
    public var headHash: String
    /// The newest checkpoint whose signature verified (or, without a key, the newest checkpoint).
    public var lastCheckpoint: AuditCheckpoint?
    /// Checkpoints examined.
    public var checkpointCount: Int
    /// Problems ordered by sequence; at most ``AuditChainVerifier/problemLimit`` are kept.
    public var problems: [AuditProblem]
    /// Total number of problems found, including those not kept.
    public var problemCount: Int
    /// True when checkpoints were checked against a public key supplied from outside the state directory
    /// and at least one valid checkpoint covers records.
    public var anchored: Bool
    /// True when the input was the whole log (a filtered export cannot prove the whole chain).
    public var complete: Bool
    /// Records after the newest valid checkpoint: not yet covered by a signature.
    public var uncheckpointedRecords: Int64
    /// What this verification does not prove (unanchored key, filtered export, unsigned tail …).
    public var notes: [String]

    /// The first bad record (the problem with the lowest sequence), if any.
    public var firstProblem: AuditProblem? { problems.first }

    /// Against an auditor's key, a log must be anchored: a valid checkpoint, and at most `maximumUnanchored` records
    /// after the last one (every command checkpoints what it wrote, so more means checkpoints were removed or not made).
    public mutating func requireAnchoring(maximumUnanchored: Int64) {
        guard complete else { return }
        guard recordCount > 0 else {
            // `interlock init` records the log's first entry: an empty log checked against the auditors' key is a
            // wiped log or the wrong database, never a verified one.
            problems.append(AuditProblem(sequence: 1, kind: .unanchored, message: "the log holds no records at all: it was emptied, or this is not the database the auditors' key signs (init always records the first entry)"))
            problemCount += 1
            return
        }
        if lastCheckpoint == nil {
            problems.append(AuditProblem(sequence: 1, kind: .unanchored, message: "no valid checkpoint signed by the trusted key covers the log: checkpoints are missing (deleted?) — nothing anchors the records"))
            problemCount += 1
        } else if uncheckpointedRecords > maximumUnanchored {
            problems.append(AuditProblem(
                sequence: lastSequence - uncheckpointedRecords + 1, kind: .unanchored,
                message: "\(uncheckpointedRecords) records follow the last valid checkpoint (at most \(maximumUnanchored) allowed): checkpoints are missing or lag the head"))
            problemCount += 1
        }
    }
}

/// One thing wrong with the log, located at a sequence number.
public struct AuditProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The record's fields no longer hash to its stored hash: a field was changed.
        case hashMismatch
        /// The record's `previousHash` is not the hash of the record before it: a record was replaced or re-chained.
        case previousHashMismatch
        /// A sequence number is missing (a record was deleted) or repeated.
        case sequenceGap
        /// The record's timestamp is earlier than its predecessor's.
        case timeWentBackwards
        /// A checkpoint's signature does not verify with the trusted public key.
        case badSignature
        /// A checkpoint names a head hash that is not the hash of record `sequence`.
        case checkpointMismatch
        /// A checkpoint names more records than the log holds: the tail was truncated.
        case missingRecords
        /// A stored record cannot be read (wrong type, unknown category, unreadable timestamp).
        case malformedRecord
        /// Verified against an auditor's key, the log has no valid checkpoint, or too many records after the last one.
        case unanchored
    }

    /// The record the problem is at (for checkpoint problems: the checkpoint's sequence, or the first missing record).
    public var sequence: Int64
    public var kind: Kind
    public var message: String

    public init(sequence: Int64, kind: Kind, message: String) {
        self.sequence = sequence
        self.kind = kind
        self.message = message
    }

    public var description: String { "record \(sequence): \(kind.rawValue): \(message)" }
}

/// Which public key checkpoint signatures are checked against.
public enum CheckpointTrust: Sendable {
    /// A key the auditor kept outside the system: a valid checkpoint anchors the log.
    case external(AuditPublicKey)
    /// The key in the state directory: proves only that log and key agree (both could have been replaced together).
    case local(AuditPublicKey)
    /// Several keys the auditor kept (e.g. the keys before and after a rotation whose old key was lost).
    case externalKeys([AuditPublicKey])
    /// No key: signatures are not checked.
    case none

    /// The keys given (before any recorded rotation is followed).
    public var keys: [AuditPublicKey] {
        switch self {
        case .external(let key), .local(let key): [key]
        case .externalKeys(let keys): keys
        case .none: []
        }
    }

    /// Whether the keys come from outside the state directory (the auditors' copies).
    public var isExternal: Bool {
        switch self {
        case .external, .externalKeys: true
        case .local, .none: false
        }
    }
}

/// Whether the records given to the verifier are the whole log or a filtered selection.
public enum AuditCoverage: Sendable, Hashable {
    /// Every record from sequence 1 to the head.
    case complete
    /// A filtered export (the filter described): only contiguous runs can be linked, gaps are expected.
    case filtered(String)
}
