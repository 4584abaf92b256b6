import Crypto
import Foundation

/// Verifies a whole log or export at once. See ``AuditChainVerifier`` for the streaming form.
public enum AuditVerifier {
    /// Recomputes every record's hash and link, checks sequence and time order, and checks every checkpoint
    /// (signature, head hash, and that the log is not shorter than a checkpoint says).
    public static func verify(
        records: some Sequence<AuditRecord>, checkpoints: [AuditCheckpoint], trust: CheckpointTrust, coverage: AuditCoverage = .complete
    ) -> AuditVerification {
        var verifier = AuditChainVerifier(checkpoints: checkpoints, trust: trust, coverage: coverage)
        for record in records { verifier.add(record) }
        return verifier.finish()
    }

    /// ``verify(records:checkpoints:trust:coverage:)`` for an array (the common case, without generic iteration).
    public static func verify(
        records: [AuditRecord], checkpoints: [AuditCheckpoint], trust: CheckpointTrust, coverage: AuditCoverage = .complete
    ) -> AuditVerification {
        var verifier = AuditChainVerifier(checkpoints: checkpoints, trust: trust, coverage: coverage)
        for index in records.indices { verifier.add(records[index]) }
        return verifier.finish()
    }
}

/// What the chain check needs of a record once its own hash has been recomputed: small, so cheap to pass
/// between threads, unlike a whole ``AuditRecord``.
struct AuditChainLink: Sendable {
    var sequence: Int64
    var timestamp: Date
    var previousHash: ChainHash
    var hash: ChainHash
    /// The hash of the record's fields when it is not the stored `hash` (the record was changed); nil when intact.
    var computedHashIfChanged: String?

    init(sequence: Int64, timestamp: Date, previousHash: ChainHash, hash: ChainHash, computedHashIfChanged: String?) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.previousHash = previousHash
        self.hash = hash
        self.computedHashIfChanged = computedHashIfChanged
    }

    init(_ record: AuditRecord, hasher: inout AuditHasher) {
        sequence = record.sequence
        timestamp = record.timestamp
        previousHash = ChainHash(record.previousHash)
        hash = ChainHash(record.hash)
        computedHashIfChanged = hasher.isIntact(record) ? nil : hasher.hash(of: record)
    }
}

/// A record's `hash` or `previousHash` as the chain check holds it: a well-formed hash (64 ASCII characters) inline,
/// anything else as its `String`. Equal exactly when the `String`s are. Inline, the hashes of a verified row cost no
/// allocation on the thread that reads them nor a release on the thread that checks the chain.
struct ChainHash: Sendable, Equatable {
    /// 64 ASCII characters as eight words, as they lie in memory.
    private struct Words: Equatable {
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

        init(_ text: UnsafeRawPointer) {
            func word(_ index: Int) -> UInt64 { text.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self) }
            words = (word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7))
        }

        static func == (a: Words, b: Words) -> Bool {
            (a.words.0 ^ b.words.0) | (a.words.1 ^ b.words.1) | (a.words.2 ^ b.words.2) | (a.words.3 ^ b.words.3)
                | (a.words.4 ^ b.words.4) | (a.words.5 ^ b.words.5) | (a.words.6 ^ b.words.6) | (a.words.7 ^ b.words.7) == 0
        }

        func withUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
            withUnsafeBytes(of: words) { body($0.assumingMemoryBound(to: UInt8.self)) }
        }
    }

    private enum Storage: Sendable {
        case ascii(Words)
        case text(String)
    }

    private let storage: Storage

    init(_ text: String) {
        var text = text
        self = text.withUTF8 { ChainHash(utf8: $0) } ?? ChainHash(storage: .text(text))
    }

    /// The hash stored as `text`, or nil unless it is 64 ASCII characters without control characters.
    init?(utf8 text: UnsafeBufferPointer<UInt8>) {
        guard text.count == 64, !containsEscapedOrNonASCII(text, nonASCII: true) else { return nil }
        storage = .ascii(Words(text.baseAddress!))
    }

    private init(storage: Storage) { self.storage = storage }

    var text: String {
        switch storage {
        case .ascii(let words): return words.withUTF8 { String(decoding: $0, as: UTF8.self) }
        case .text(let text): return text
        }
    }

    /// Whether this is `digest` in lowercase hex.
    func isHex(of digest: SHA256.Digest) -> Bool {
        switch storage {
        case .ascii(let words): return words.withUTF8 { AuditHasher.digest(digest, isHex: $0) }
        case .text(let text): return AuditHasher.digest(digest, isHex: text)
        }
    }

    static func == (a: ChainHash, b: ChainHash) -> Bool {
        if case .ascii(let a) = a.storage, case .ascii(let b) = b.storage { return a == b }
        return a.text == b.text
    }
}

/// Verifies records one at a time, in sequence order, without keeping them: memory stays flat for any log size.
///
/// Checkpoints are given up front so the verifier keeps only the hashes the checkpoints name.
public struct AuditChainVerifier {
    /// Problems kept in the result (all are counted).
    public static let problemLimit = 1000

    private let trust: CheckpointTrust
    private let coverage: AuditCoverage
    private let checkpoints: [AuditCheckpoint]
    private let checkpointSequences: Set<Int64>
    private var hashesAtCheckpoints: [Int64: String] = [:]
    private var hasher = AuditHasher()
    private var problems: [AuditProblem] = []
    private var problemCount = 0
    private var count = 0
    private var lastSequence: Int64 = 0
    private var lastHash = ChainHash(AuditRecord.genesisHash)
    private var lastTimestamp: Date?
    private var runs = 0
    private var maxSequence: Int64 = 0

    public init(checkpoints: [AuditCheckpoint], trust: CheckpointTrust, coverage: AuditCoverage = .complete) {
        self.checkpoints = checkpoints
        self.trust = trust
        self.coverage = coverage
        self.checkpointSequences = Set(checkpoints.map(\.sequence))
    }

    private var isComplete: Bool { coverage == .complete }

    private mutating func report(_ sequence: Int64, _ kind: AuditProblem.Kind, _ message: String) {
        problemCount += 1
        if problems.count < Self.problemLimit { problems.append(AuditProblem(sequence: sequence, kind: kind, message: message)) }
    }

    /// Examines the next record (records must come in the order they are stored).
    public mutating func add(_ record: AuditRecord) {
        add(AuditChainLink(record, hasher: &hasher))
    }

    /// ``add(_:)`` for a record whose own hash was already checked (by ``ConcurrentAuditChainVerifier``).
    mutating func add(_ link: AuditChainLink) {
        let sequence = link.sequence
        if let computed = link.computedHashIfChanged {
            report(sequence, .hashMismatch, "the record's fields hash to \(computed.prefix(16))…, but it carries \(link.hash.text.prefix(16))…: a field of record \(sequence) was changed after it was written")
        }
        let expected = lastSequence + 1
        var linked = false
        if sequence == expected {
            linked = isComplete || count > 0 || sequence == 1
        } else if isComplete {
            if sequence > expected {
                let missing = sequence - 1 == expected ? "record \(expected) is missing" : "records \(expected)…\(sequence - 1) are missing"
                report(expected, .sequenceGap, "\(missing) (deleted?): the log jumps from \(lastSequence) to \(sequence)")
            } else {
                report(sequence, .sequenceGap, "sequence \(sequence) appears after \(lastSequence): repeated or out of order")
            }
        }
        if sequence != expected || count == 0 { runs += 1 }
        if linked, link.previousHash != lastHash {
            let what = sequence == 1 ? "the genesis value (64 zeros)" : "the hash of record \(lastSequence) (\(lastHash.text.prefix(16))…)"
            report(sequence, .previousHashMismatch, "its previousHash \(link.previousHash.text.prefix(16))… is not \(what): record \(lastSequence) or \(sequence) was replaced, or the chain re-linked")
        }
        if let lastTimestamp, link.timestamp < lastTimestamp {
            report(sequence, .timeWentBackwards, "timestamp \(AuditTimestamp.format(link.timestamp)) is earlier than \(AuditTimestamp.format(lastTimestamp)) of record \(lastSequence)")
        }
        if checkpointSequences.contains(sequence) { hashesAtCheckpoints[sequence] = link.hash.text }
        count += 1
        lastSequence = sequence
        lastHash = link.hash
        lastTimestamp = link.timestamp
        maxSequence = max(maxSequence, sequence)
    }

    /// Records a stored row that could not even be read as a record.
    public mutating func addMalformed(_ problem: AuditProblem) {
        report(problem.sequence, .malformedRecord, problem.message)
        let expected = lastSequence + 1
        if isComplete, problem.sequence > expected {
            report(expected, .sequenceGap, "records \(expected)…\(problem.sequence - 1) are missing")
        }
        count += 1
        lastSequence = problem.sequence
        lastHash = ChainHash("unreadable")
        maxSequence = max(maxSequence, problem.sequence)
    }

    /// Checks the checkpoints against what was seen and returns the result.
    public func finish() -> AuditVerification {
        var copy = self
        return copy.finishing()
    }

    private mutating func finishing() -> AuditVerification {
        var notes: [String] = []
        let key: AuditPublicKey?
        var external = false
        switch trust {
        case .external(let k): key = k; external = true
        case .local(let k): key = k
        case .none: key = nil
        }
        var lastGood: AuditCheckpoint?
        var anyBadSignature = false
        var unverifiableCheckpoints = 0
        for (index, checkpoint) in checkpoints.enumerated() {
            let name = "checkpoint #\(index + 1) (sequence \(checkpoint.sequence), \(AuditTimestamp.format(checkpoint.timestamp)))"
            var good = true
            if let key {
                if !checkpoint.isSigned(by: key) {
                    good = false
                    anyBadSignature = true
                    let keyText = checkpoint.keyID == key.keyID
                        ? "its signature does not verify with key \(key.keyID): the checkpoint was altered or forged"
                        : "it was signed by key \(checkpoint.keyID), not by the \(external ? "trusted" : "state directory's") key \(key.keyID): the signing key was replaced and checkpoints re-signed, or the checkpoint forged"
                    report(checkpoint.sequence, .badSignature, "\(name): \(keyText)")
                    // A checkpoint nobody trusted signed says nothing about the log: its size and hash are not compared.
                    continue
                } else if checkpoint.keyID != key.keyID {
                    good = false
                    anyBadSignature = true
                    report(checkpoint.sequence, .badSignature, "\(name) names key \(checkpoint.keyID) but is signed by key \(key.keyID): the checkpoint was edited")
                }
            }
            if checkpoint.sequence == 0 {
                if checkpoint.headHash != AuditRecord.genesisHash {
                    good = false
                    report(0, .checkpointMismatch, "\(name) is for an empty log but names head hash \(checkpoint.headHash.prefix(16))…")
                }
            } else if let hash = hashesAtCheckpoints[checkpoint.sequence] {
                if hash != checkpoint.headHash {
                    good = false
                    report(checkpoint.sequence, .checkpointMismatch, "\(name) signed head hash \(checkpoint.headHash.prefix(16))…, but record \(checkpoint.sequence) has hash \(hash.prefix(16))…: records up to \(checkpoint.sequence) were changed or re-chained after the checkpoint")
                }
            } else if checkpoint.sequence > maxSequence, isComplete {
                good = false
                report(maxSequence + 1, .missingRecords, "\(name) says the log held \(checkpoint.sequence) records, but it ends at \(maxSequence): records \(maxSequence + 1)…\(checkpoint.sequence) are missing (the tail was truncated)")
            } else {
                good = false
                unverifiableCheckpoints += 1
            }
            if good, checkpoint.sequence >= (lastGood?.sequence ?? -1) { lastGood = checkpoint }
        }
        if unverifiableCheckpoints > 0 {
            notes.append("\(unverifiableCheckpoints) checkpoint(s) name records outside this export and could not be compared with it")
        }
        switch trust {
        case .external(let k):
            if checkpoints.isEmpty {
                notes.append("there are no checkpoints: nothing is anchored to the public key \(k.keyID)")
            }
        case .local(let k):
            notes.append("checkpoints were checked with the public key stored next to the log (key \(k.keyID)); this proves the log and that key agree, not that neither was replaced — verify with --public-key FILE, a copy kept outside this system")
        case .none:
            notes.append("checkpoint signatures were not checked: no public key was given")
        }
        let uncovered = lastGood.map { maxSequence - $0.sequence } ?? maxSequence
        if uncovered > 0, lastGood != nil {
            notes.append("\(uncovered) record(s) after the last valid checkpoint (sequence \(lastGood!.sequence)) are not yet covered by a signature; a truncation of those would not be detected")
        } else if lastGood == nil, count > 0 {
            notes.append("no valid checkpoint covers the records: a truncation of the log's tail would not be detected")
        }
        if case .filtered(let filter) = coverage {
            notes.insert("filtered export (\(filter)): \(count) record(s) in \(runs) contiguous run(s); each record's own hash and the links inside each run were checked, but records outside the export, the links between runs and truncation cannot be verified — verify the database or an unfiltered export for the whole chain", at: 0)
        }
        let order = Dictionary(uniqueKeysWithValues: AuditProblem.Kind.allCases.enumerated().map { ($1, $0) })
        problems.sort { ($0.sequence, order[$0.kind]!) < ($1.sequence, order[$1.kind]!) }
        let anchored = external && !anyBadSignature && lastGood != nil && (lastGood?.sequence ?? 0) > 0
        return AuditVerification(
            recordCount: count, lastSequence: lastSequence, headHash: lastHash.text, lastCheckpoint: lastGood,
            checkpointCount: checkpoints.count, problems: problems, problemCount: problemCount, anchored: anchored,
            complete: isComplete, uncheckpointedRecords: lastGood != nil ? uncovered : maxSequence, notes: notes
        )
    }
}
