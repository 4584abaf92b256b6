import Crypto
import Foundation

/// The Ed25519 private key that signs audit checkpoints. Kept in the state directory (mode 0600) by ``KeyStore``.
public struct AuditSigningKey: Sendable {
    /// The raw 32 bytes (secret). Kept as bytes: swift-crypto's key type is not `Sendable` on every platform.
    public let rawRepresentation: Data
    /// The public half, to give to auditors.
    public let publicKey: AuditPublicKey

    /// A new random key.
    public init() {
        let key = Curve25519.Signing.PrivateKey()
        rawRepresentation = key.rawRepresentation
        publicKey = AuditPublicKey(validated: key.publicKey.rawRepresentation)
    }

    /// The key from its raw 32-byte representation.
    public init(rawRepresentation: Data) throws {
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
        self.rawRepresentation = key.rawRepresentation
        publicKey = AuditPublicKey(validated: key.publicKey.rawRepresentation)
    }

    /// Signs `message`; returns the 64-byte signature.
    public func sign(_ message: Data) throws -> Data {
        try Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation).signature(for: message)
    }
}

/// An Ed25519 public key that verifies checkpoint signatures.
///
/// Its text form (``text``, the content of `audit-signing.pub`) is one base64 line of the raw 32 bytes,
/// after a `#` comment line naming the key id. ``init(text:)`` also reads a bare base64 line and the
/// PEM `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo) form that OpenSSL writes.
public struct AuditPublicKey: Sendable, Hashable {
    /// The raw 32 bytes.
    public let rawRepresentation: Data

    init(validated raw: Data) { rawRepresentation = raw }

    /// The key from its raw 32 bytes.
    public init(rawRepresentation raw: Data) throws {
        do {
            rawRepresentation = try Curve25519.Signing.PublicKey(rawRepresentation: raw).rawRepresentation
        } catch {
            throw AuditStoreError(.invalidKey, "not an Ed25519 public key", cause: error)
        }
    }

    /// Reads the text form (see the type's documentation).
    public init(text: String) throws {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("-----") }
        guard let data = Data(base64Encoded: lines.joined()) else {
            throw AuditStoreError(.invalidKey, "the public key is not base64 text (expected the content of audit-signing.pub)")
        }
        // SubjectPublicKeyInfo for Ed25519: 302a300506032b6570032100 + 32 bytes
        let spkiPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        let raw = data.count == 44 && Array(data.prefix(12)) == spkiPrefix ? data.suffix(32) : data
        guard raw.count == 32 else {
            throw AuditStoreError(.invalidKey, "the public key has \(raw.count) bytes; an Ed25519 public key has 32")
        }
        try self.init(rawRepresentation: Data(raw))
    }

    /// First 16 hex digits of SHA-256 of the raw key: names the key in checkpoints and messages.
    public var keyID: String { String(hexString(SHA256.hash(data: rawRepresentation)).prefix(16)) }

    /// The single base64 line of the raw key.
    public var base64: String { rawRepresentation.base64EncodedString() }

    /// The content of `audit-signing.pub`: a comment line and the base64 line.
    public var text: String {
        "# Interlock audit checkpoint public key, Ed25519 (raw 32 bytes, base64), key id \(keyID)\n\(base64)\n"
    }

    public func isValidSignature(_ signature: Data, for message: Data) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) else { return false }
        return key.isValidSignature(signature, for: message)
    }

}
