import ArgumentParser
import Foundation
import InterlockModel
import InterlockServer
import InterlockStore

/// `interlock init`: the state directory, the audit database and the checkpoint key pair. Safe to run again.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the state directory, the audit database and the checkpoint signing key (idempotent); print the public key.",
        discussion: "Exit code 2 when the state directory, database or key cannot be created."
    )

    @OptionGroup var state: StateDirectoryOptions
    @OptionGroup var instance: InstanceOptions

    @Option(name: .long, help: "A directory the auditors hold (their file share, a directory only they may change): every checkpoint is published there as it is made.")
    var checkpointDir: String?

    @Option(name: .long, help: "The signing helper's Unix socket ('interlock signer serve'): checkpoints are signed there from now on, with a key the service cannot read. A key in the state directory is retired (the move is recorded as a key rotation that the old key endorses) and deleted. Run again after the helper's key was rotated.")
    var signer: String?

    @Flag(name: .long, help: "Make a new signing key for a log whose key was lost (recorded as a key rotation; auditors need the new public key).")
    var rotateKey = false

    @Flag(name: .long, help: "Print what was created as JSON.")
    var json = false

    func run() throws {
        let dir = state.path
        let created: Bool
        let key: AuditPublicKey
        let store: SQLiteStore
        var initialized = false
        var helperSocket: String?
        do {
            let databaseExists = FileManager.default.fileExists(atPath: dir + "/" + SQLiteStore.fileName)
            if let signer {
                helperSocket = signer.hasPrefix("/") ? signer : FileManager.default.currentDirectoryPath + "/" + signer
            } else if databaseExists {
                helperSocket = try SQLiteStore(stateDirectory: dir).setting(KeyStore.signerSettingKey)
            }
        } catch {
            Terminal.error("cannot initialise \(dir): \(error)")
            throw ExitCode(2)
        }
        if let helperSocket {
            guard !rotateKey else {
                Terminal.error("checkpoints of \(dir) are signed by the signing helper at \(helperSocket): rotate its key there ('interlock signer keygen', then restart 'interlock signer serve' with the new --key and the old one as --previous-key) and run 'interlock init --signer \(helperSocket)' to record the rotation")
                throw ExitCode(2)
            }
            (store, key, created, initialized) = try useHelper(helperSocket, in: dir)
        } else {
        do {
            // A log that exists without its key: a new key is never made silently (checkpoints made with it would not
            // verify with the auditors' copy of the old one); only an explicit rotation makes one, and records it.
            let databaseExists = FileManager.default.fileExists(atPath: dir + "/" + SQLiteStore.fileName)
            let keyExists = FileManager.default.fileExists(atPath: KeyStore.privateKeyPath(in: dir))
            if databaseExists, !keyExists, try SQLiteStore(stateDirectory: dir).count() > 0, !rotateKey {
                Terminal.error("the audit log in \(dir) exists but its signing key \(KeyStore.privateKeyPath(in: dir)) is missing; restore the key from a backup, or make a new one with 'interlock init --rotate-key' (recorded; the auditors then need the new public key)")
                throw ExitCode(2)
            }
            let previousPublicKey = try? KeyStore.loadPublicKey(from: dir)
            let localKey: AuditSigningKey
            (localKey, created) = try KeyStore.createIfMissing(in: dir)
            key = localKey.publicKey
            store = try SQLiteStore(stateDirectory: dir)
            if try store.count() == 0 {
                _ = try store.appendAndCheckpoint(AuditEntry(
                    actor: CommandActor.current, category: .auditLog, action: "audit.initialized",
                    details: ["keyID": key.keyID, "keyCreated": created ? "true" : "false"]), signingKey: localKey)
                initialized = true
            } else if created {
                // A new key for an existing log (--rotate-key): record the rotation and anchor the log to the new key.
                // The public half of a lost key usually survives next to it: named in the rotation, it lets the new key
                // vouch for the old checkpoints (never the other way round). It is named only when it really signed the
                // newest checkpoint it can verify (a checkpoint row's key id alone can be edited).
                let signer = KeyStore.newestSigner(of: try store.checkpoints(), among: previousPublicKey.map { [$0] } ?? [])
                let previous = signer?.keyID ?? "unknown"
                let previousPublic = signer?.base64
                _ = try store.appendAndCheckpoint(AuditEntry(
                    actor: CommandActor.current, category: .auditLog, action: KeyRotation.action, before: previous, after: key.keyID,
                    reason: "the previous signing key was missing",
                    details: ["keyID": key.keyID, "previousKeyID": previous, "publicKey": key.base64]
                        .merging(previousPublic.map { ["previousPublicKey": $0] } ?? [:]) { $1 }), signingKey: localKey)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Terminal.error("cannot initialise \(dir): \(error)")
            throw ExitCode(2)
        }
        }
        if let checkpointDir {
            let directory = checkpointDir.hasPrefix("/") ? checkpointDir : FileManager.default.currentDirectoryPath + "/" + checkpointDir
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue, access(directory, W_OK) == 0 else {
                Terminal.error("--checkpoint-dir \(directory) is not a directory Interlock can write to")
                throw ExitCode(2)
            }
            do {
                if try store.setting(CheckpointPublication.settingKey) != directory {
                    try store.setSettings([CheckpointPublication.settingKey: directory], entries: [AuditEntry(
                        actor: CommandActor.current, category: .auditLog, action: "audit.checkpoint-directory", after: directory,
                        details: ["directory": directory])])
                }
                try KeyStore.checkpointIfKeyed(store, stateDirectory: dir)
            } catch {
                Terminal.error("cannot publish checkpoints to \(directory): \(error)")
                throw ExitCode(2)
            }
        }
        // The instance configuration in use becomes the one users and their rights are taken from.
        var trustNote: String?
        let configuration = try instance.load()
        if configuration.file != nil {
            do {
                trustNote = try TrustedConfiguration.bind(configuration, store: store, actor: CommandActor.current)
                try KeyStore.checkpointIfKeyed(store, stateDirectory: dir)
            } catch {
                Terminal.error("cannot record the trusted instance configuration: \(error)")
                throw ExitCode(2)
            }
        }
        if json {
            Terminal.printJSON(.object([
                "stateDirectory": .string(dir), "database": .string(store.path),
                "privateKey": helperSocket == nil ? .string(KeyStore.privateKeyPath(in: dir)) : .null,
                "signer": helperSocket.map(Value.string) ?? .null,
                "publicKeyFile": .string(KeyStore.publicKeyPath(in: dir)),
                "keyID": .string(key.keyID), "publicKey": .string(key.base64),
                "keyCreated": .bool(created), "logCreated": .bool(initialized),
                "trustedConfiguration": (try? store.setting(TrustedConfiguration.pathKey)).flatMap { $0 }.map(Value.string) ?? .null,
            ]))
            return
        }
        let word = { (new: Bool) in new ? Terminal.styled("created", .green) : "exists " }
        print("\(word(initialized)) audit log      \(store.path)")
        if let helperSocket {
            print("\(word(created)) signing helper \(helperSocket) (holds the key; nothing in \(dir) can sign)")
        } else {
            print("\(word(created)) signing key    \(KeyStore.privateKeyPath(in: dir)) (keep private, mode 0600)")
        }
        print("\(word(created)) public key     \(KeyStore.publicKeyPath(in: dir))")
        if let published = try? store.setting(CheckpointPublication.settingKey) {
            print("publishing checkpoints to \(published)")
        }
        if let trusted = try? store.setting(TrustedConfiguration.pathKey) {
            print("\(trustNote == nil ? "trusted" : Terminal.styled("trusted", .green)) users from   \(trusted)\(trustNote.map { " — \($0)" } ?? "")")
        } else {
            print("no users yet       (run 'interlock init --config FILE' to name the instance configuration signers come from)")
        }
        print("")
        print("Public key for auditors (key id \(key.keyID)) — keep a copy outside this system and verify with")
        print("'interlock audit verify --public-key FILE':")
        print("")
        print(key.base64)
    }

    /// Points the log at the signing helper at `socket`. Records `audit.signer-configured` when the socket changes and
    /// `audit.key-rotated` when the helper's key is not the one that signed last: a key in the state directory endorses
    /// the rotation with a checkpoint of its own and is deleted; a helper rotating with `--previous-key` endorses it with
    /// the old key. Returns the store, the helper's public key, whether it newly signs this log, and whether the log was
    /// created.
    private func useHelper(_ socket: String, in dir: String) throws -> (SQLiteStore, AuditPublicKey, Bool, Bool) {
        let client = SignerClient(socketPath: socket, timeout: 30)
        do {
            let status = try client.status()
            let key = status.publicKey
            let store = try SQLiteStore(stateDirectory: dir)
            let localKeyPath = KeyStore.privateKeyPath(in: dir)
            let localKey = FileManager.default.fileExists(atPath: localKeyPath) ? try KeyStore.loadSigningKey(from: dir) : nil
            let actor = CommandActor.current
            var created = false
            var initialized = false
            // Nothing is recorded until the helper has accepted the log as it is: a helper that refuses it (it signed
            // another log, or a longer one) leaves this log as it was.
            try store.show(to: client)
            if try store.count() == 0 {
                try store.setSettings([KeyStore.signerSettingKey: socket], entries: [AuditEntry(
                    actor: actor, category: .auditLog, action: "audit.initialized",
                    details: ["keyID": key.keyID, "signer": socket])])
                created = true
                initialized = true
            } else {
                // The key that signed last is the newest checkpoint that verifies with a key known here, never a
                // checkpoint row's key id (an edited row must not suppress the rotation record).
                let storedPublic = try? KeyStore.loadPublicKey(from: dir)
                let known = [key, localKey?.publicKey, status.previousPublicKey, storedPublic].compactMap { $0 }
                let previousKeyID = KeyStore.newestSigner(of: try store.checkpoints(), among: known)?.keyID ?? localKey?.publicKey.keyID
                var entries: [AuditEntry] = []
                if try store.setting(KeyStore.signerSettingKey) != socket {
                    entries.append(AuditEntry(
                        actor: actor, category: .auditLog, action: "audit.signer-configured", after: socket,
                        details: ["signer": socket, "keyID": key.keyID]))
                    created = true
                }
                if previousKeyID != key.keyID {
                    // The rotation is the last record, so the old key's endorsement names exactly its sequence.
                    let previousPublic = known.first { $0.keyID == previousKeyID && $0 != key }
                    var details = ["keyID": key.keyID, "previousKeyID": previousKeyID ?? "none", "publicKey": key.base64, "signer": socket]
                    if let previousPublic, previousPublic.keyID == previousKeyID { details["previousPublicKey"] = previousPublic.base64 }
                    entries.append(AuditEntry(
                        actor: actor, category: .auditLog, action: KeyRotation.action, before: previousKeyID, after: key.keyID,
                        reason: localKey != nil ? "checkpoints are signed by the signing helper from now on" : "the signing helper's key was rotated",
                        details: details))
                    created = true
                }
                if !entries.isEmpty {
                    try store.setSettings([KeyStore.signerSettingKey: socket], entries: entries)
                }
                if let localKey, localKey.publicKey.keyID == previousKeyID, previousKeyID != key.keyID {
                    _ = try store.checkpoint(signer: localKey)
                }
            }
            // The first checkpoint shows the helper the whole log (or what it has not seen): it refuses a log that does
            // not extend what it accepted before.
            try KeyStore.checkpointIfKeyed(store, stateDirectory: dir)
            if localKey != nil {
                guard unlink(localKeyPath) == 0 else {
                    throw AuditStoreError(.io, "cannot delete the retired key \(localKeyPath): \(String(cString: strerror(errno)))")
                }
            }
            try Data(key.text.utf8).write(to: URL(fileURLWithPath: KeyStore.publicKeyPath(in: dir)), options: .atomic)
            chmod(KeyStore.publicKeyPath(in: dir), 0o644)
            return (store, key, created, initialized)
        } catch {
            Terminal.error("cannot use the signing helper at \(socket) for \(dir): \(error)")
            throw ExitCode(2)
        }
    }
}
