import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The checkpoint key pair in the state directory: `audit-signing.key` (private, base64 of the raw
/// 32 bytes, mode 0600) and `audit-signing.pub` (``AuditPublicKey/text``).
///
/// The public key next to the log only proves consistency: whoever can rewrite the log can replace it.
/// Auditors keep a copy of the public key elsewhere and pass it to `audit verify --public-key`.
public enum KeyStore {
    public static let privateKeyFileName = "audit-signing.key"
    public static let publicKeyFileName = "audit-signing.pub"

    public static func privateKeyPath(in stateDirectory: String) -> String { stateDirectory + "/" + privateKeyFileName }
    public static func publicKeyPath(in stateDirectory: String) -> String { stateDirectory + "/" + publicKeyFileName }

    /// Signs a checkpoint of the store's head when a key exists, and publishes it where the store says checkpoints
    /// go (`interlock init --checkpoint-dir`).
    @discardableResult
    public static func checkpointIfKeyed(_ store: any AuditStore, stateDirectory: String) throws -> AuditCheckpoint? {
        guard let signer = try signer(for: store, stateDirectory: stateDirectory) else { return nil }
        let checkpoint = try store.checkpoint(signer: signer)
        try CheckpointPublication.publishIfConfigured(checkpoint, store: store)
        return checkpoint
    }

    /// The key that signed the newest checkpoint whose signature verifies with one of `keys`. A checkpoint row is as
    /// editable as the rest of the database: a key id alone says nothing, only a signature that verifies does.
    public static func newestSigner(of checkpoints: [AuditCheckpoint], among keys: [AuditPublicKey]) -> AuditPublicKey? {
        for checkpoint in checkpoints.sorted(by: { ($0.sequence, $0.timestamp) > ($1.sequence, $1.timestamp) }) {
            if let key = keys.first(where: { $0.keyID == checkpoint.keyID && checkpoint.isSigned(by: $0) }) { return key }
        }
        return nil
    }

    /// The setting (`interlock init --signer SOCKET`) naming the signing helper's socket.
    public static let signerSettingKey = "audit.signerSocket"

    /// What signs the store's checkpoints: the signing helper the store names (`interlock init --signer`), else the
    /// key in the state directory; nil when there is neither (before `interlock init`).
    public static func signer(for store: any AuditStore, stateDirectory: String) throws -> (any CheckpointSigner)? {
        if let socket = try store.setting(signerSettingKey) { return SignerClient(socketPath: socket) }
        guard FileManager.default.fileExists(atPath: privateKeyPath(in: stateDirectory)) else { return nil }
        return try loadSigningKey(from: stateDirectory)
    }

    /// Loads the key pair, creating it (and the directory, mode 0700) when there is none; `created` tells which.
    /// Safe against two processes initialising at once: the private key file is created exclusively.
    public static func createIfMissing(in stateDirectory: String) throws -> (key: AuditSigningKey, created: Bool) {
        try StateDirectoryFiles.create(stateDirectory)
        let path = privateKeyPath(in: stateDirectory)
        var created = false
        if !FileManager.default.fileExists(atPath: path) {
            let key = AuditSigningKey()
            let text = key.rawRepresentation.base64EncodedString() + "\n"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 {
                let ok = text.utf8CString.withUnsafeBufferPointer { buffer in
                    write(fd, buffer.baseAddress, buffer.count - 1) == buffer.count - 1
                }
                fsync(fd)
                close(fd)
                guard ok else { throw AuditStoreError(.io, "cannot write \(path)") }
                created = true
            } else if errno != EEXIST {
                throw AuditStoreError(.io, "cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
        let key = try loadSigningKey(from: stateDirectory)
        let publicPath = publicKeyPath(in: stateDirectory)
        let existing = try? AuditPublicKey(text: String(contentsOfFile: publicPath, encoding: .utf8))
        if existing != key.publicKey {
            try Data(key.publicKey.text.utf8).write(to: URL(fileURLWithPath: publicPath), options: .atomic)
            chmod(publicPath, 0o644)
        }
        return (key, created)
    }

    /// Loads the private key; fails with a message naming `interlock init` when there is none.
    public static func loadSigningKey(from stateDirectory: String) throws -> AuditSigningKey {
        let path = privateKeyPath(in: stateDirectory)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AuditStoreError(.missingKey, "no signing key at \(path); run 'interlock init' first")
        }
        guard let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw AuditStoreError(.invalidKey, "\(path) is not a base64 Ed25519 private key")
        }
        return try AuditSigningKey(rawRepresentation: raw)
    }

    /// Loads the public key kept in the state directory.
    public static func loadPublicKey(from stateDirectory: String) throws -> AuditPublicKey {
        try loadPublicKey(file: publicKeyPath(in: stateDirectory))
    }

    /// Loads a public key file (the auditor's own copy, or the state directory's).
    public static func loadPublicKey(file path: String) throws -> AuditPublicKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AuditStoreError(.missingKey, "cannot read the public key file \(path)")
        }
        return try AuditPublicKey(text: text)
    }
}

/// Creation of the state directory.
enum StateDirectoryFiles {
    static func create(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw AuditStoreError(.io, "\(path) exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AuditStoreError(.io, "cannot create the state directory \(path): \(error.localizedDescription)")
        }
    }
}
