import Foundation

/// A signed statement "the log held `sequence` records and record `sequence` had hash `headHash`".
///
/// An auditor who keeps the public key (and ideally a recent checkpoint) outside the system can prove
/// that no record up to `sequence` was changed, removed or re-chained since — and that the tail was not truncated.
public struct AuditCheckpoint: Sendable, Hashable {
    /// The log size when signed: the sequence number of the head record (0 for an empty log).
    public var sequence: Int64
    /// The `hash` of record `sequence` (64 zeros for an empty log).
    public var headHash: String
    /// When the checkpoint was made, UTC, milliseconds.
    public var timestamp: Date
    /// Base64 Ed25519 signature over ``signedMessage``.
    public var signature: String
    /// The first 16 hex digits of the SHA-256 of the signing public key (raw 32 bytes).
    public var keyID: String

    public init(sequence: Int64, headHash: String, timestamp: Date, signature: String, keyID: String) {
        self.sequence = sequence
        self.headHash = headHash
        self.timestamp = timestamp
        self.signature = signature
        self.keyID = keyID
    }

    /// The exact bytes that are signed:
    /// `interlock-checkpoint-v1\n<sequence>\n<headHash>\n<timestamp>` (UTF-8, no trailing newline).
    public static func message(sequence: Int64, headHash: String, timestamp: Date) -> Data {
        Data("interlock-checkpoint-v1\n\(sequence)\n\(headHash)\n\(AuditTimestamp.format(timestamp))".utf8)
    }

    /// ``message(sequence:headHash:timestamp:)`` of this checkpoint.
    public var signedMessage: Data { Self.message(sequence: sequence, headHash: headHash, timestamp: timestamp) }

    /// Creates and signs a checkpoint.
    public static func signed(sequence: Int64, headHash: String, timestamp: Date, key: AuditSigningKey) throws -> AuditCheckpoint {
        let at = AuditTimestamp.truncated(timestamp)
        let signature = try key.sign(message(sequence: sequence, headHash: headHash, timestamp: at))
        return AuditCheckpoint(sequence: sequence, headHash: headHash, timestamp: at, signature: signature.base64EncodedString(), keyID: key.publicKey.keyID)
    }

    /// Whether the signature is valid for `key` (the key id is not trusted: the signature decides).
    public func isSigned(by key: AuditPublicKey) -> Bool {
        guard let raw = Data(base64Encoded: signature) else { return false }
        return key.isValidSignature(raw, for: signedMessage)
    }
}
