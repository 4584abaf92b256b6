import Foundation

/// Whatever signs audit checkpoints: the key in the state directory (``AuditSigningKey``), or a signing helper in
/// another account that holds the key where the service cannot read it and checks that every head it signs extends
/// the one it signed before (``SignerClient``, ``SigningHelper``).
public protocol CheckpointSigner: Sendable {
    /// The public half of the key that signs (the key id checkpoints name).
    func signingPublicKey() throws -> AuditPublicKey

    /// Signs a checkpoint of the head `(sequence, headHash)`.
    ///
    /// Called while the store holds its write lock, so the head cannot move. `records(after, limit)` returns the
    /// records with a sequence above `after`, ascending, at most `limit` of them: a signer that keeps its own view
    /// of the log reads the records since the head it signed last and checks that they extend it.
    /// - Parameter now: the store's clock; a signer with a clock of its own may use that instead.
    /// - Returns: the checkpoint of the head, last; before it, when the records include a key rotation to the signer's
    ///   key, the same head signed with the previous key (the old key's endorsement of the rotation).
    func signCheckpoint(
        sequence: Int64, headHash: String, now: Date,
        records: (_ after: Int64, _ limit: Int) throws -> [AuditRecord]
    ) throws -> [AuditCheckpoint]
}

extension AuditSigningKey: CheckpointSigner {
    public func signingPublicKey() throws -> AuditPublicKey { publicKey }

    public func signCheckpoint(
        sequence: Int64, headHash: String, now: Date, records: (Int64, Int) throws -> [AuditRecord]
    ) throws -> [AuditCheckpoint] {
        [try AuditCheckpoint.signed(sequence: sequence, headHash: headHash, timestamp: now, key: self)]
    }
}
