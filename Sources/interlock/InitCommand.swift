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

    @Flag(name: .long, help: "Print what was created as JSON.")
    var json = false

    func run() throws {
        let dir = state.path
        let created: Bool
        let key: AuditSigningKey
        let store: SQLiteStore
        var initialized = false
        do {
            (key, created) = try KeyStore.createIfMissing(in: dir)
            store = try SQLiteStore(stateDirectory: dir)
            if try store.count() == 0 {
                _ = try store.appendAndCheckpoint(AuditEntry(
                    actor: CommandActor.current, category: .auditLog, action: "audit.initialized",
                    details: ["keyID": key.publicKey.keyID, "keyCreated": created ? "true" : "false"]), signingKey: key)
                initialized = true
            } else if created {
                // A new key for an existing log: record it and anchor the log to it.
                _ = try store.appendAndCheckpoint(AuditEntry(
                    actor: CommandActor.current, category: .auditLog, action: "audit.key-created",
                    details: ["keyID": key.publicKey.keyID]), signingKey: key)
            }
        } catch {
            Terminal.error("cannot initialise \(dir): \(error)")
            throw ExitCode(2)
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
