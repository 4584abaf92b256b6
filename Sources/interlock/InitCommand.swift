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

    @Flag(name: .long, help: "Make a new signing key for a log whose key was lost (recorded as a key rotation; auditors need the new public key).")
    var rotateKey = false

    @Flag(name: .long, help: "Print what was created as JSON.")
    var json = false

    func run() throws {
        let dir = state.path
        let created: Bool
        let key: AuditSigningKey
        let store: SQLiteStore
        var initialized = false
        do {
            // A log that exists without its key: a new key is never made silently (checkpoints made with it would not
            // verify with the auditors' copy of the old one); only an explicit rotation makes one, and records it.
            let databaseExists = FileManager.default.fileExists(atPath: dir + "/" + SQLiteStore.fileName)
            let keyExists = FileManager.default.fileExists(atPath: KeyStore.privateKeyPath(in: dir))
            if databaseExists, !keyExists, try SQLiteStore(stateDirectory: dir).count() > 0, !rotateKey {
                Terminal.error("the audit log in \(dir) exists but its signing key \(KeyStore.privateKeyPath(in: dir)) is missing; restore the key from a backup, or make a new one with 'interlock init --rotate-key' (recorded; the auditors then need the new public key)")
                throw ExitCode(2)
            }
            (key, created) = try KeyStore.createIfMissing(in: dir)
            store = try SQLiteStore(stateDirectory: dir)
            if try store.count() == 0 {
                _ = try store.appendAndCheckpoint(AuditEntry(
                    actor: CommandActor.current, category: .auditLog, action: "audit.initialized",
                    details: ["keyID": key.publicKey.keyID, "keyCreated": created ? "true" : "false"]), signingKey: key)
                initialized = true
            } else if created {
                // A new key for an existing log (--rotate-key): record the rotation and anchor the log to the new key.
                let previous = try store.checkpoints().last?.keyID ?? "unknown"
                _ = try store.appendAndCheckpoint(AuditEntry(
                    actor: CommandActor.current, category: .auditLog, action: "audit.key-rotated", before: previous, after: key.publicKey.keyID,
                    reason: "the previous signing key was missing",
                    details: ["keyID": key.publicKey.keyID, "previousKeyID": previous, "publicKey": key.publicKey.base64]), signingKey: key)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Terminal.error("cannot initialise \(dir): \(error)")
            throw ExitCode(2)
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
                "privateKey": .string(KeyStore.privateKeyPath(in: dir)), "publicKeyFile": .string(KeyStore.publicKeyPath(in: dir)),
                "keyID": .string(key.publicKey.keyID), "publicKey": .string(key.publicKey.base64),
                "keyCreated": .bool(created), "logCreated": .bool(initialized),
                "trustedConfiguration": (try? store.setting(TrustedConfiguration.pathKey)).flatMap { $0 }.map(Value.string) ?? .null,
            ]))
            return
        }
        let word = { (new: Bool) in new ? Terminal.styled("created", .green) : "exists " }
        print("\(word(initialized)) audit log      \(store.path)")
        print("\(word(created)) signing key    \(KeyStore.privateKeyPath(in: dir)) (keep private, mode 0600)")
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
        print("Public key for auditors (key id \(key.publicKey.keyID)) — keep a copy outside this system and verify with")
        print("'interlock audit verify --public-key FILE':")
        print("")
        print(key.publicKey.base64)
    }
}
