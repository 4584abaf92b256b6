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
    /// The key rotation the record records, if it is one.
    var rotation: KeyRotation?

    init(sequence: Int64, timestamp: Date, previousHash: ChainHash, hash: ChainHash, computedHashIfChanged: String?, rotation: KeyRotation? = nil) {
        self.rotation = rotation
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
        rotation = KeyRotation(record)
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
    /// Intact key-rotation records: sequence and rotation.
    private var rotations: [(sequence: Int64, rotation: KeyRotation)] = []

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
        if let rotation = link.rotation, link.computedHashIfChanged == nil { rotations.append((sequence, rotation)) }
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

    /// A key checkpoints may be signed with, and the sequences it may sign.
    struct TrustedKey {
        var key: AuditPublicKey
        var lowest: Int64
        var highest: Int64
        /// The rotation record it was trusted through (nil for a key given by the caller).
        var rotation: Int64?
        var origin: String
        /// Whether its checkpoints can hand trust over to another key. A key known only as a rotation's previous key
        /// never can: nothing but the record names it, so it may confirm what a trusted checkpoint already fixes and
        /// nothing more.
        var endorses = true

        func covers(_ sequence: Int64) -> Bool { sequence >= lowest && sequence <= highest }
        var rangeText: String { highest == .max ? "from \(lowest)" : "up to \(highest)" }
    }

    /// Whether the checkpoint names the hash the log holds at its sequence.
    private func matchesLog(_ checkpoint: AuditCheckpoint) -> Bool {
        checkpoint.sequence == 0 ? checkpoint.headHash == AuditRecord.genesisHash : hashesAtCheckpoints[checkpoint.sequence] == checkpoint.headHash
    }

    /// The keys given, and those recorded key rotations hand over to. A rotation record (intact, in the chain) hands
    /// over only when a key trusted at its sequence signed a checkpoint of exactly that record (the retiring key's
    /// endorsement): its new key is then trusted from the rotation on, and the key that endorsed it only up to the
    /// rotation. A checkpoint of a trusted key that covers a rotation also makes the previous key it names trusted up
    /// to the rotation (those checkpoints can only confirm records the trusted key's chain already fixes); such a key
    /// never endorses a rotation itself, so a record naming a key can never hand that key's holder further trust.
    func trustedKeys() -> [TrustedKey] {
        var keys = trust.keys.map { TrustedKey(key: $0, lowest: 0, highest: .max, rotation: nil, origin: "was given") }
        guard !keys.isEmpty, !rotations.isEmpty, isComplete else { return keys }
        var changed = true
        var handled = Set<Int64>()
        while changed {
            changed = false
            let anchors = checkpoints.filter { checkpoint in
                matchesLog(checkpoint) && keys.contains { $0.endorses && $0.covers(checkpoint.sequence) && checkpoint.isSigned(by: $0.key) }
            }
            guard let newest = anchors.map(\.sequence).max() else { break }
            for (sequence, rotation) in rotations where !handled.contains(sequence) {
                let endorsers = anchors.filter { $0.sequence == sequence }.compactMap { checkpoint in
                    keys.firstIndex { $0.endorses && $0.covers(sequence) && checkpoint.isSigned(by: $0.key) && $0.key != rotation.publicKey }
                }
                if let endorser = endorsers.first {
                    handled.insert(sequence)
                    keys[endorser].highest = min(keys[endorser].highest, sequence)
                    if keys[endorser].rotation == nil { keys[endorser].origin = "was retired by the key rotation recorded at sequence \(sequence)" }
                    keys.append(TrustedKey(
                        key: rotation.publicKey, lowest: sequence, highest: .max, rotation: sequence,
                        origin: "was handed over to by the key rotation recorded at sequence \(sequence)"))
                    changed = true
                }
                if sequence <= newest, let previous = rotation.previousPublicKey, !keys.contains(where: { $0.key == previous }) {
                    keys.append(TrustedKey(
                        key: previous, lowest: 0, highest: sequence, rotation: sequence,
                        origin: "was retired by the key rotation recorded at sequence \(sequence)", endorses: false))
                    changed = true
                }
            }
        }
        return keys
    }

    /// Checks the checkpoints against what was seen and returns the result.
    public func finish() -> AuditVerification {
        var copy = self
        return copy.finishing()
    }

    private mutating func finishing() -> AuditVerification {
        var notes: [String] = []
        let external = trust.isExternal
        let checkKeys = !trust.keys.isEmpty
        let trusted = trustedKeys()
        let rotationsByKey = Dictionary(rotations.map { ($0.rotation.publicKey.keyID, $0.sequence) }, uniquingKeysWith: { first, _ in first })
        var lastGood: AuditCheckpoint?
        var anyBadSignature = false
        var unverifiableCheckpoints = 0
        for (index, checkpoint) in checkpoints.enumerated() {
            let name = "checkpoint #\(index + 1) (sequence \(checkpoint.sequence), \(AuditTimestamp.format(checkpoint.timestamp)))"
            var good = true
            if checkKeys {
                let signer = trusted.first { $0.covers(checkpoint.sequence) && checkpoint.isSigned(by: $0.key) }
                if signer == nil {
                    good = false
                    anyBadSignature = true
                    let given = external ? "trusted" : "state directory's"
                    let keyText: String
                    if let named = trusted.first(where: { $0.key.keyID == checkpoint.keyID }) {
                        keyText = checkpoint.isSigned(by: named.key)
                            ? "it is signed by key \(named.key.keyID), which \(named.origin) and may sign only sequences \(named.rangeText): the checkpoint was forged with a retired key"
                            : "its signature does not verify with key \(named.key.keyID): the checkpoint was altered or forged"
                    } else if let rotated = rotationsByKey[checkpoint.keyID] {
                        keyText = "it was signed by key \(checkpoint.keyID), which the key rotation recorded at sequence \(rotated) introduced, but no checkpoint of a trusted key endorses that rotation (the previous key was lost?): once you have checked key \(checkpoint.keyID) with whoever holds it, verify with its public key as another --public-key"
                    } else {
                        keyText = "it was signed by key \(checkpoint.keyID), not by the \(given) key \(trust.keys.map(\.keyID).joined(separator: ", ")): the signing key was replaced and checkpoints re-signed, or the checkpoint forged"
                    }
                    report(checkpoint.sequence, .badSignature, "\(name): \(keyText)")
                    // A checkpoint nobody trusted signed says nothing about the log: its size and hash are not compared.
                    continue
                } else if let signer, checkpoint.keyID != signer.key.keyID {
                    good = false
                    anyBadSignature = true
                    report(checkpoint.sequence, .badSignature, "\(name) names key \(checkpoint.keyID) but is signed by key \(signer.key.keyID): the checkpoint was edited")
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
        case .external, .externalKeys:
            if checkpoints.isEmpty {
                notes.append("there are no checkpoints: nothing is anchored to the public key \(trust.keys.map(\.keyID).joined(separator: ", "))")
            }
        case .local(let k):
            notes.append("checkpoints were checked with the public key stored next to the log (key \(k.keyID)); this proves the log and that key agree, not that neither was replaced — verify with --public-key FILE, a copy kept outside this system")
        case .none:
            notes.append("checkpoint signatures were not checked: no public key was given")
        }
        for key in trusted where key.rotation != nil || key.highest != .max {
            notes.append("key \(key.key.keyID) \(key.origin); its checkpoints for sequences \(key.rangeText) were accepted")
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
