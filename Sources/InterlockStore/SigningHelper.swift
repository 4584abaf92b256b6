import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The signing helper: `interlock signer serve` runs in an account of its own and holds the checkpoint key in a file
// only that account can read. The service asks it over a Unix socket to sign its log's head and must show it the
// records since the head it signed last; the helper checks that they extend that head (sequence, links, each
// record's hash, time order) and refuses anything else. So whoever can write the database — or even run code as
// the service — can neither read the key nor get a shortened or rewritten log signed. See docs/audit.md.

/// One request to the helper: a JSON object on one line.
struct SignerRequest: Codable {
    /// `status` (key and the head last signed) or `extend` (records; signs when `sign` is true).
    var op: String
    /// The head the records continue from: must be the helper's.
    var fromSequence: Int64?
    var fromHash: String?
    var records: [AuditRecord]?
    /// Sign the head the records reach (false for the intermediate batches of a long extension).
    var sign: Bool?
}

/// The helper's answer: a JSON object on one line.
struct SignerResponse: Codable {
    var ok: Bool
    var error: String?
    var publicKey: String?
    var keyID: String?
    /// The head the helper has verified up to (and signed, or is about to).
    var sequence: Int64?
    var headHash: String?
    var checkpoint: AuditCheckpoint?
    /// With `checkpoint`, when the records include the rotation to this helper's key: the same head signed with the
    /// previous key (`--previous-key`), so verification with the old key follows the rotation.
    var endorsement: AuditCheckpoint?
    /// The previous key (`--previous-key`), while a rotation is under way.
    var previousPublicKey: String?
}

/// What the helper remembers between runs: the head it last accepted and when it last signed. Kept in its own state
/// directory, written atomically and durably before a signature leaves the helper.
public struct SignerState: Codable, Sendable, Equatable {
    public var sequence: Int64
    public var headHash: String
    /// The timestamp of the last checkpoint signed: later ones never go back before it.
    public var lastSigned: String?
    public var keyID: String?
    /// The timestamp of record `sequence`: the next record may not be earlier.
    public var headTimestamp: String?

    public static let initial = SignerState(sequence: 0, headHash: AuditRecord.genesisHash, lastSigned: nil, keyID: nil, headTimestamp: nil)
}

/// The helper's logic, apart from its socket: its key, its state and the check that a log extends what it signed.
public final class SigningHelper: @unchecked Sendable {
    public static let stateFileName = "signer-state.json"
    /// At most this many records per request.
    public static let recordsPerRequest = 2000
    /// A request line may not exceed this many bytes.
    public static let requestLimit = 64 << 20

    public let key: AuditSigningKey
    /// The key being rotated away from: it endorses the rotation record that names ``key``.
    public let previousKey: AuditSigningKey?
    public let stateDirectory: String
    private let lock = NSLock()
    private var state: SignerState
    private let now: @Sendable () -> Date

    public var statePath: String { stateDirectory + "/" + Self.stateFileName }

    public init(
        key: AuditSigningKey, previousKey: AuditSigningKey? = nil, stateDirectory: String, now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.key = key
        self.previousKey = previousKey
        self.stateDirectory = stateDirectory
        self.now = now
        try StateDirectoryFiles.create(stateDirectory)
        let path = stateDirectory + "/" + Self.stateFileName
        if let data = FileManager.default.contents(atPath: path) {
            do {
                state = try JSONDecoder().decode(SignerState.self, from: data)
            } catch {
                throw AuditStoreError(.io, "\(path) is not a signing helper state file (\(error)); restore it from a backup — never delete it to make the helper sign a shorter log")
            }
        } else {
            state = .initial
        }
    }

    /// The head the helper has accepted so far.
    public var current: SignerState { lock.withLock { state } }

    /// Loads the private key from `path`: base64 of the raw 32 bytes (what `interlock signer keygen` writes). Refuses a
    /// key that others than its owner may read, or that belongs to another account than the one running the helper.
    public static func loadKey(_ path: String) throws -> AuditSigningKey {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw AuditStoreError(.missingKey, "cannot read the signing key \(path): \(String(cString: strerror(errno))); create one with 'interlock signer keygen --key \(path)'")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw AuditStoreError(.invalidKey, "the signing key \(path) may be read by others (mode \(String(status.st_mode & 0o777, radix: 8))); run 'chmod 600 \(path)'")
        }
        guard status.st_uid == geteuid() else {
            throw AuditStoreError(.invalidKey, "the signing key \(path) belongs to uid \(status.st_uid), not to the account running the helper (uid \(geteuid()))")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw AuditStoreError(.invalidKey, "\(path) is not a base64 Ed25519 private key")
        }
        return try AuditSigningKey(rawRepresentation: raw)
    }

    /// Creates a new key file at `path` (mode 0600; never overwrites one).
    public static func createKey(_ path: String) throws -> AuditSigningKey {
        let key = AuditSigningKey()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "it exists; a key is never overwritten" : String(cString: strerror(errno))
            throw AuditStoreError(.io, "cannot create the signing key \(path): \(reason)")
        }
        defer { close(fd) }
        let data = Data((key.rawRepresentation.base64EncodedString() + "\n").utf8)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else { throw AuditStoreError(.io, "cannot write the signing key \(path)") }
        return key
    }

    /// Answers one request. Never throws: every refusal is an answer with the reason.
    func handle(_ request: SignerRequest) -> SignerResponse {
        lock.withLock {
            switch request.op {
            case "status":
                return SignerResponse(
                    ok: true, publicKey: key.publicKey.base64, keyID: key.publicKey.keyID, sequence: state.sequence, headHash: state.headHash,
                    previousPublicKey: previousKey?.publicKey.base64)
            case "extend":
                do {
                    return try extend(request)
                } catch {
                    return SignerResponse(ok: false, error: "\(error)", keyID: key.publicKey.keyID, sequence: state.sequence, headHash: state.headHash)
                }
            default:
                return SignerResponse(ok: false, error: "unknown operation '\(request.op.prefix(40))'; expected 'status' or 'extend'")
            }
        }
    }

    /// Why the helper refuses: the message goes to the service (and from there to its log) and to the helper's own.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    private func extend(_ request: SignerRequest) throws -> SignerResponse {
        guard let from = request.fromSequence, let fromHash = request.fromHash else {
            throw Refusal(description: "an extension names the head it continues from (fromSequence, fromHash)")
        }
        let records = request.records ?? []
        guard records.count <= Self.recordsPerRequest else {
            throw Refusal(description: "\(records.count) records in one request; at most \(Self.recordsPerRequest)")
        }
        guard from == state.sequence, fromHash == state.headHash else {
            if from < state.sequence {
                throw Refusal(description: "the log's head is at sequence \(from), but this helper already accepted the log up to sequence \(state.sequence): the log was truncated or restored from an older copy — refusing to sign it")
            }
            if from == state.sequence {
                throw Refusal(description: "record \(from) has hash \(fromHash.prefix(16))… in the log, but this helper accepted it with hash \(state.headHash.prefix(16))…: the log was rewritten — refusing to sign it")
            }
            throw Refusal(description: "the extension starts at sequence \(from), but this helper is at sequence \(state.sequence): send the records after \(state.sequence)")
        }
        var sequence = state.sequence
        var hash = state.headHash
        var lastTime: Date? = state.headTimestamp.flatMap(AuditTimestamp.parse)
        var rotation: (sequence: Int64, hash: String)?
        for record in records {
            guard record.sequence == sequence + 1 else {
                throw Refusal(description: "record \(record.sequence) follows \(sequence): the log has a gap or repeats a sequence — refusing to sign it")
            }
            guard record.previousHash == hash else {
                throw Refusal(description: "record \(record.sequence) does not link to record \(sequence) (previousHash \(record.previousHash.prefix(16))…, expected \(hash.prefix(16))…): the log was rewritten — refusing to sign it")
            }
            let computed = record.computedHash
            guard computed == record.hash else {
                throw Refusal(description: "record \(record.sequence)'s fields hash to \(computed.prefix(16))…, but it carries \(record.hash.prefix(16))…: it was changed — refusing to sign it")
            }
            if let lastTime, record.timestamp < lastTime {
                throw Refusal(description: "record \(record.sequence)'s time \(record.timestampText) is before its predecessor's: refusing to sign it")
            }
            lastTime = record.timestamp
            if let rotated = KeyRotation(record) {
                if rotated.publicKey == key.publicKey {
                    rotation = (record.sequence, record.hash)
                } else if state.lastSigned != nil {
                    // Once this helper signs the log, only its owner changes the key (a new --key, the old one as
                    // --previous-key): a record handing the log to another key is an attempt to take it over.
                    throw Refusal(description: "record \(record.sequence) records a key rotation to key \(rotated.publicKey.keyID), which this helper does not hold: the log is signed here, and only the helper's owner rotates its key (restart it with the new --key and the old one as --previous-key) — refusing to sign it")
                }
            }
            sequence = record.sequence
            hash = record.hash
        }
        var next = state
        next.sequence = sequence
        next.headHash = hash
        if let lastTime { next.headTimestamp = AuditTimestamp.format(lastTime) }
        var checkpoint: AuditCheckpoint?
        var endorsement: AuditCheckpoint?
        if rotation != nil, request.sign != true {
            throw Refusal(description: "the records include the rotation to this helper's key: sign their head in the same request")
        }
        if request.sign == true {
            var at = AuditTimestamp.truncated(now())
            if let last = next.lastSigned.flatMap(AuditTimestamp.parse), at < last { at = last }
            if let rotation, let previousKey {
                // The old key signs exactly the rotation record: verification hands trust over only there.
                endorsement = try AuditCheckpoint.signed(sequence: rotation.sequence, headHash: rotation.hash, timestamp: at, key: previousKey)
            }
            let signed = try AuditCheckpoint.signed(sequence: sequence, headHash: hash, timestamp: at, key: key)
            next.lastSigned = AuditTimestamp.format(signed.timestamp)
            next.keyID = key.publicKey.keyID
            checkpoint = signed
        }
        if next != state {
            try save(next)
            state = next
        }
        return SignerResponse(ok: true, keyID: key.publicKey.keyID, sequence: sequence, headHash: hash, checkpoint: checkpoint, endorsement: endorsement)
    }

    /// Writes the state: a temporary file, fsync, rename, fsync of the directory — before any signature is returned.
    private func save(_ next: SignerState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(next)
        let temporary = statePath + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw AuditStoreError(.io, "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, statePath) == 0 else {
            throw AuditStoreError(.io, "cannot write \(statePath): \(String(cString: strerror(errno)))")
        }
        let directory = open(stateDirectory, O_RDONLY | O_DIRECTORY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// Serves requests on `socketPath` until the process ends: one request per connection, one at a time.
    /// - Parameters:
    ///   - allowedUIDs: when not empty, only processes of these users may connect (SO_PEERCRED).
    ///   - log: one line per signature and per refusal.
    public func serve(socketPath: String, mode: mode_t, allowedUIDs: Set<uid_t>, log: @escaping (String) -> Void) throws -> Never {
        let listener: Int32
        do {
            listener = try UnixSocket.listen(socketPath, mode: mode)
        } catch {
            throw AuditStoreError(.io, "\(error)")
        }
        log("signing helper: key \(key.publicKey.keyID)\(previousKey.map { " (rotating from \($0.publicKey.keyID))" } ?? ""), at sequence \(current.sequence), listening on \(socketPath)")
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                throw AuditStoreError(.io, "cannot accept on \(socketPath): \(String(cString: strerror(errno)))")
            }
            serveConnection(fd, allowedUIDs: allowedUIDs, log: log)
            close(fd)
        }
    }

    private func serveConnection(_ fd: Int32, allowedUIDs: Set<uid_t>, log: (String) -> Void) {
        UnixSocket.setTimeouts(fd, 30)
        let uid = UnixSocket.peerUID(fd)
        let response: SignerResponse
        if !allowedUIDs.isEmpty, !(uid.map(allowedUIDs.contains) ?? false) {
            // Read (a little of) the request first, so the caller is not cut off mid-write and sees the answer.
            _ = try? UnixSocket.readLine(fd, limit: 4096, within: 2)
            response = SignerResponse(ok: false, error: "uid \(uid.map(String.init) ?? "unknown") may not use this signing helper")
            log("refused a connection from uid \(uid.map(String.init) ?? "unknown"): not among --client-user")
        } else {
            do {
                let line = try UnixSocket.readLine(fd, limit: Self.requestLimit, within: 10)
                let request = try JSONDecoder().decode(SignerRequest.self, from: line)
                response = handle(request)
                if let error = response.error {
                    log("refused (uid \(uid.map(String.init) ?? "?")): \(error)")
                } else if let checkpoint = response.checkpoint {
                    log("signed sequence \(checkpoint.sequence) head \(checkpoint.headHash.prefix(16))… (uid \(uid.map(String.init) ?? "?"))")
                }
            } catch {
                let text = (error as? UnixSocket.Failure)?.description ?? "not a signing request: \(error)"
                log("refused a request: \(text)")
                response = SignerResponse(ok: false, error: text)
            }
        }
        if var data = try? JSONEncoder().encode(response) {
            data.append(0x0A)
            try? UnixSocket.writeAll(fd, data)
        }
    }
}

/// The service's side of the signing helper: signs checkpoints by showing the helper the records since the head it
/// accepted last. Holds no key.
public struct SignerClient: CheckpointSigner {
    public let socketPath: String
    public var timeout: TimeInterval

    public init(socketPath: String, timeout: TimeInterval = 30) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    public struct Status: Sendable {
        public var publicKey: AuditPublicKey
        public var sequence: Int64
        public var headHash: String
        /// The key the helper rotates away from (`--previous-key`), if any.
        public var previousPublicKey: AuditPublicKey?
    }

    /// The helper's key and the head it has accepted.
    public func status() throws -> Status {
        let response = try call(SignerRequest(op: "status"))
        guard let text = response.publicKey, let sequence = response.sequence, let hash = response.headHash else {
            throw AuditStoreError(.io, "the signing helper at \(socketPath) gave an incomplete status")
        }
        return Status(
            publicKey: try AuditPublicKey(text: text), sequence: sequence, headHash: hash,
            previousPublicKey: try response.previousPublicKey.map { try AuditPublicKey(text: $0) })
    }

    public func signingPublicKey() throws -> AuditPublicKey { try status().publicKey }

    public func signCheckpoint(
        sequence: Int64, headHash: String, now: Date, records: (Int64, Int) throws -> [AuditRecord]
    ) throws -> [AuditCheckpoint] {
        let response = try extend(to: sequence, headHash: headHash, sign: true, records: records)
        guard let checkpoint = response.checkpoint, checkpoint.sequence == sequence, checkpoint.headHash == headHash else {
            throw AuditStoreError(.io, "the signing helper at \(socketPath) did not sign the head \(sequence)")
        }
        guard let endorsement = response.endorsement else { return [checkpoint] }
        guard endorsement.sequence <= sequence else {
            throw AuditStoreError(.io, "the signing helper at \(socketPath) endorsed a record beyond the head \(sequence)")
        }
        return [endorsement, checkpoint]
    }

    /// Shows the helper the log up to `(sequence, headHash)` without asking for a signature: it accepts the records
    /// (and remembers them) or says why not. Used before anything is recorded about a move to the helper.
    public func accept(sequence: Int64, headHash: String, records: (Int64, Int) throws -> [AuditRecord]) throws {
        _ = try extend(to: sequence, headHash: headHash, sign: false, records: records)
    }

    /// Sends the records from the helper's head up to `(sequence, headHash)` in batches; the last request signs when
    /// `sign` is true. Returns the helper's answer to the last request.
    private func extend(
        to sequence: Int64, headHash: String, sign: Bool, records: (Int64, Int) throws -> [AuditRecord]
    ) throws -> SignerResponse {
        let status = try status()
        var at = status.sequence
        var hash = status.headHash
        if at > sequence || (at == sequence && hash != headHash) {
            // A log shorter than, or different from, what the helper accepted: asked to take it anyway, the helper
            // refuses and says so in its own log, where its owner sees it.
            at = sequence
            hash = headHash
        }
        while true {
            let batch = at < sequence ? try records(at, SigningHelper.recordsPerRequest) : []
            guard at == sequence || !batch.isEmpty else {
                throw AuditStoreError(.corruptRecord, "the log has no records after sequence \(at) although its head is \(sequence)")
            }
            let final = (batch.last?.sequence ?? at) >= sequence
            let response = try call(SignerRequest(op: "extend", fromSequence: at, fromHash: hash, records: batch, sign: sign && final))
            guard response.ok else {
                throw AuditStoreError(.corruptRecord, "the signing helper at \(socketPath) refused: \(response.error ?? "no reason given")")
            }
            guard let reached = response.sequence, let reachedHash = response.headHash else {
                throw AuditStoreError(.io, "the signing helper at \(socketPath) gave an incomplete answer")
            }
            if final { return response }
            at = reached
            hash = reachedHash
        }
    }

    private func call(_ request: SignerRequest) throws -> SignerResponse {
        do {
            let fd = try UnixSocket.connect(socketPath, timeout: timeout)
            defer { close(fd) }
            var data = try JSONEncoder().encode(request)
            data.append(0x0A)
            var writeFailure: Error?
            do { try UnixSocket.writeAll(fd, data) } catch { writeFailure = error }
            // A helper that refuses the caller answers at once and closes: its answer says why, not the broken pipe.
            let line: Data
            do {
                line = try UnixSocket.readLine(fd, limit: 1 << 20)
            } catch {
                throw writeFailure ?? error
            }
            let response = try JSONDecoder().decode(SignerResponse.self, from: line)
            if !response.ok, request.op == "status" {
                throw AuditStoreError(.io, "the signing helper at \(socketPath) refused: \(response.error ?? "no reason given")")
            }
            return response
        } catch let error as AuditStoreError {
            throw error
        } catch {
            throw AuditStoreError(.io, "\(error)")
        }
    }
}

/// A recorded key rotation (`audit.key-rotated`): the key checkpoints are signed with from this record on, and the one
/// before it when the record names it.
public struct KeyRotation: Sendable, Equatable {
    public static let action = "audit.key-rotated"

    public var publicKey: AuditPublicKey
    public var previousPublicKey: AuditPublicKey?

    public init?(_ record: AuditRecord) {
        guard record.category == .auditLog, record.action == Self.action, record.result == .success else { return nil }
        self.init(details: record.details)
    }

    init?(details: [String: String]) {
        guard let text = details["publicKey"], let key = try? AuditPublicKey(text: text) else { return nil }
        publicKey = key
        previousPublicKey = details["previousPublicKey"].flatMap { try? AuditPublicKey(text: $0) }
    }
}
