import ArgumentParser
import Foundation
import InterlockModel
import InterlockStore
#if canImport(Glibc)
import Glibc
#endif

/// `interlock signer`: the signing helper that holds the checkpoint key outside the service's reach.
struct SignerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signer",
        abstract: "The signing helper: holds the audit checkpoint key in its own account and signs only heads that extend what it signed before.",
        discussion: """
            Run 'interlock signer serve' as a user of its own (deploy/interlock-signer.service), with the key in a file only \
            that user can read, and point the service at its socket with 'interlock init --signer SOCKET'. The service must \
            show the helper every record since the head it signed last; the helper checks the chain and refuses a log that \
            was truncated, rewritten or re-chained. See docs/audit.md.
            """,
        subcommands: [SignerKeygenCommand.self, SignerServeCommand.self, SignerStatusCommand.self]
    )
}

struct SignerKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a signing key file (mode 0600, never overwritten) and print its public key for the auditors."
    )

    @Option(name: .long, help: "Where to create the private key, e.g. /etc/interlock-signer/audit-signing.key.")
    var key: String

    func run() throws {
        do {
            let created = try SigningHelper.createKey(key)
            print("created signing key \(key) (key id \(created.publicKey.keyID); readable by this account only)")
            print("")
            print("Public key for auditors — keep a copy outside this system and verify with 'interlock audit verify --public-key FILE':")
            print("")
            print(created.publicKey.base64)
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
    }
}

struct SignerServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve checkpoint signatures on a Unix socket (runs until stopped).",
        discussion: "Exit code 2 when the key, the state directory or the socket cannot be used."
    )

    @Option(name: .long, help: "The private key file ('interlock signer keygen'); must be readable by this account only.")
    var key: String

    @Option(name: .long, help: "While rotating keys: the key being replaced. It endorses the recorded rotation to --key (signs the same head), so verification with the old public key follows the rotation; remove it once 'interlock init --signer' recorded the rotation.")
    var previousKey: String?

    @Option(name: .long, help: "The Unix socket to listen on, e.g. /run/interlock-signer/signer.sock.")
    var socket: String

    @Option(name: .long, help: "Where the helper keeps the head it accepted last (its own directory, not the service's).")
    var stateDir: String

    @Option(name: .long, help: "Permissions of the socket file, octal (default 0660: the helper's user and group).")
    var socketMode: String = "0660"

    @Option(name: .long, help: "Only processes of this user may ask for signatures (SO_PEERCRED). Repeatable; a name or a numeric uid.")
    var clientUser: [String] = []

    func run() throws {
        guard let mode = mode_t(socketMode.hasPrefix("0o") ? String(socketMode.dropFirst(2)) : socketMode, radix: 8), mode <= 0o777 else {
            Terminal.error("--socket-mode '\(socketMode)' is not an octal file mode such as 0660")
            throw ExitCode(2)
        }
        var uids = Set<uid_t>()
        for user in clientUser {
            if let uid = uid_t(user) {
                uids.insert(uid)
            } else if let entry = getpwnam(user) {
                uids.insert(entry.pointee.pw_uid)
            } else {
                Terminal.error("--client-user '\(user)' is neither a user on this system nor a numeric uid")
                throw ExitCode(2)
            }
        }
        let helper: SigningHelper
        do {
            helper = try SigningHelper(
                key: try SigningHelper.loadKey(key), previousKey: try previousKey.map(SigningHelper.loadKey), stateDirectory: stateDir)
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        // Stop on SIGTERM and SIGINT even when started with them blocked (a supervisor's mask is inherited).
        var stopping = sigset_t()
        sigemptyset(&stopping)
        sigaddset(&stopping, SIGTERM)
        sigaddset(&stopping, SIGINT)
        sigaddset(&stopping, SIGHUP)
        sigprocmask(SIG_UNBLOCK, &stopping, nil)
        if uids.isEmpty {
            FileHandle.standardError.write(Data("note: no --client-user given: every process that may open \(socket) (mode \(socketMode)) can ask for signatures\n".utf8))
        }
        do {
            try helper.serve(socketPath: socket, mode: mode, allowedUIDs: uids) { line in
                FileHandle.standardError.write(Data("\(AuditTimestamp.format(Date())) \(line)\n".utf8))
            }
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
    }
}

struct SignerStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Ask a signing helper for its public key and the head it has accepted."
    )

    @Option(name: .long, help: "The helper's Unix socket.")
    var socket: String

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        do {
            let status = try SignerClient(socketPath: socket, timeout: 10).status()
            if json {
                Terminal.printJSON(.object([
                    "socket": .string(socket), "keyID": .string(status.publicKey.keyID), "publicKey": .string(status.publicKey.base64),
                    "sequence": .int(Int(status.sequence)), "headHash": .string(status.headHash),
                ]))
            } else {
                print("signing helper  \(socket)")
                print("key id          \(status.publicKey.keyID)")
                print("public key      \(status.publicKey.base64)")
                if let previous = status.previousPublicKey { print("rotating from   \(previous.keyID)") }
                print("accepted up to  sequence \(status.sequence) (head \(status.headHash.prefix(16))…)")
            }
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
    }
}
