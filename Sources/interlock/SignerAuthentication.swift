import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel
import InterlockServer
import InterlockStore

/// Who signs or overrides from the command line, and how they prove it: `--as USER` and that user's password from
/// the instance configuration the state directory trusts — asked on the terminal without echo, or read from
/// standard input with `--password-stdin`.
struct SignerOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: "Your user id in the instance configuration (you are asked for its password).")
    var user: String

    @Flag(name: .long, help: "Read the password from the first line of standard input instead of asking on the terminal (scripts).")
    var passwordStdin = false
}

/// A user who proved who they are, and how (for the record).
struct AuthenticatedUser {
    var user: InstanceConfiguration.User
    /// `password (cli, os-user:root)`.
    var authentication: String
}

enum SignerAuthentication {
    /// Failed password attempts for one user within `window` that lock signing from the command line.
    static let maximumFailures = 5
    static let window: TimeInterval = 15 * 60

    /// Authenticates `options.user` against the trusted instance configuration. Every refusal is audited as
    /// `<verb>.refused` (site and change when given), and throws exit code 1.
    static func authenticate(
        _ options: SignerOptions, verb: String, context: QueueContext, site: String? = nil, change: ChangeRequest? = nil, reason: String? = nil
    ) throws -> AuthenticatedUser {
        let os = CommandActor.current
        let how = "password (cli, os-user:\(os.id))"
        func refuse(_ message: String) throws -> Never {
            try context.store.record([AuditEvent(
                actor: Person(id: options.user, name: context.configuration.user(options.user)?.name ?? options.user), role: "unauthenticated",
                authentication: how, category: .access, action: "\(verb).refused", site: site ?? change?.site, changeID: change?.id,
                planID: change?.plan.id, commit: change?.plan.commit, reason: reason, success: false, error: message)])
            context.checkpoint()
            Terminal.error("\(verb) refused: \(message)")
            throw ExitCode(1)
        }
        do {
            try TrustedConfiguration.check(context.configuration, store: context.store, actor: os)
        } catch {
            try refuse(error.message)
        }
        guard let user = context.configuration.user(options.user) else {
            try refuse("'\(options.user)' is not a user of this Interlock instance (see the users in \(context.configuration.file ?? "the instance configuration"))")
        }
        let since = Date().addingTimeInterval(-window)
        let failures = try context.store.records(matching: AuditQuery(actor: user.id, category: .access, since: since)).filter {
            $0.action.hasSuffix(".refused") && $0.error?.hasPrefix(passwordMismatch) == true
        }
        if failures.count >= maximumFailures {
            try refuse("too many wrong passwords for \(user.id) in the last \(Int(window / 60)) minutes; try again later")
        }
        guard let stored = user.passwordHash, let hash = try? PasswordHash(parsing: stored) else {
            try refuse("\(user.name) (\(user.id)) has no password in the instance configuration and cannot sign or override")
        }
        let password = try readPassword(options, prompt: "Password for \(user.name) (\(user.id)): ")
        guard hash.matches(password) else {
            try refuse("\(passwordMismatch) for \(user.id): nothing was signed")
        }
        return AuthenticatedUser(user: user, authentication: how)
    }

    static let passwordMismatch = "the password does not match"

    /// The password from standard input (`--password-stdin`, first line, at most 1 KiB) or the terminal (no echo).
    static func readPassword(_ options: SignerOptions, prompt: String) throws -> String {
        if options.passwordStdin {
            var bytes: [UInt8] = []
            while bytes.count <= 1024 {
                var byte: UInt8 = 0
                let count = read(STDIN_FILENO, &byte, 1)
                if count <= 0 || byte == UInt8(ascii: "\n") { break }
                bytes.append(byte)
            }
            guard bytes.count <= 1024 else {
                Terminal.error("the password on standard input is longer than 1024 bytes")
                throw ExitCode(1)
            }
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard isatty(STDIN_FILENO) == 1, let entered = getpass(prompt) else {
            Terminal.error("no terminal to ask for the password: pass it on standard input with --password-stdin")
            throw ExitCode(1)
        }
        return String(cString: entered)
    }
}
