import ArgumentParser
import Foundation
import InterlockAgent
import InterlockEngine
import InterlockModel
import InterlockServer
import InterlockStore
import Logging
import ServiceLifecycle

/// `interlock serve`: the reconcile loop of `interlock run` plus the HTTP API and web console.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the reconciler loop (as 'interlock run') and the HTTP API, web console and /metrics until SIGTERM.",
        discussion: """
            Listens on --address (default 127.0.0.1:8080, loopback only). TLS is terminated by a reverse proxy \
            (see docs/operations.md); pass --secure-cookies when browsers reach it over HTTPS. Users and their \
            password hashes come from the instance configuration ('interlock hash-password'). On SIGTERM the \
            loop finishes the pass in progress — an apply is never cut off — then the server stops. \
            A PostgreSQL state database that does not answer at start-up is waited for (retried with back-off up to \
            every 30 s; /readyz answers 503 meanwhile). \
            Exit codes: 0 stopped, 2 the configuration, state directory or address cannot be used.
            """
    )

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "host:port to listen on; ':8080' listens on every interface.")
    var address: String = "127.0.0.1:8080"

    @Option(name: .long, help: "Seconds between passes (default: pollInterval of the instance configuration, else 60).")
    var interval: Int?

    @Option(name: .long, help: "Whether components' reload and health commands run: run or skip (skipping is audited).")
    var hooks: HookMode = .run

    @Flag(name: .long, help: "Mark cookies Secure and send HSTS (the console is reached over HTTPS, e.g. through a reverse proxy).")
    var secureCookies = false

    @Option(name: .long, help: "The auditors' copy of the checkpoint public key: background and on-demand verification is then anchored.")
    var auditPublicKey: String?

    @Option(name: .long, help: "host:port of the HTTPS listener plant agents connect to (mutual TLS), e.g. ':8443'. Off unless given.")
    var agentAddress: String?

    @Option(name: .long, help: "PEM certificate (chain) of the agent listener. Default: one issued at start by the agent authority in the state directory.")
    var agentTlsCert: String?

    @Option(name: .long, help: "PEM private key of --agent-tls-cert.")
    var agentTlsKey: String?

    @Option(name: .long, help: "A host name or address agents use to reach the listener, for the certificate issued at start (repeatable; default: this host's name, localhost, 127.0.0.1).")
    var agentHostname: [String] = []

    func run() throws {
        guard let (host, port) = ServeRunner.parseAddress(address) else {
            throw ValidationError("--address must be host:port, e.g. 127.0.0.1:8080")
        }
        let logger = ServeRunner.makeLogger()
        // A replica that starts before its database waits for it, saying so on /readyz, instead of exiting.
        let context = try QueueContext(instance: instance, repository: repository, target: target, waitForDatabase: { open in
            try ServeRunner.waitingForDatabase(host: host, port: port, logger: logger, describe: { "\($0)" }, open: open)
        })
        let users = context.configuration.users
        if users.isEmpty {
            FileHandle.standardError.write(Data("warning: the instance configuration lists no users: nobody can sign in\n".utf8))
        }
        for user in users where user.passwordHash == nil && user.apiTokens.isEmpty {
            FileHandle.standardError.write(Data("warning: user \(user.id) has neither a passwordHash nor apiTokens and cannot sign in\n".utf8))
        }
        for user in users {
            if let text = user.passwordHash {
                do { _ = try PasswordHash(parsing: text) } catch {
                    Terminal.error("user \(user.id): \(error)")
                    throw ExitCode(2)
                }
            }
        }
        // Users come only from the configuration this state directory trusts; the service names it the first time.
        if context.configuration.file != nil {
            do {
                if try context.store.setting(TrustedConfiguration.pathKey) == nil {
                    if let note = try TrustedConfiguration.bind(context.configuration, store: context.store, actor: CommandActor.current) { print("interlock serve: \(note)") }
                } else {
                    try TrustedConfiguration.check(context.configuration, store: context.store, actor: CommandActor.current)
                }
            } catch {
                Terminal.error("\(error)")
                throw ExitCode(2)
            }
        }
        let seconds = interval ?? context.configuration.pollInterval.seconds
        let interlock = InterlockInstance(
            configuration: context.configuration, source: context.repository.source, revision: context.repository.rev,
            stateDirectory: context.stateDirectory, planning: context.planning, store: context.store, clock: context.clock,
            trustedPublicKeyFile: auditPublicKey, runHooks: hooks == .run, rollout: { [context] in context.rollout($0) },
            history: context.commitHistory, rehearsal: Rehearsal.note)
        let loop = ReconcileLoop(instance: interlock, observations: Observations(), metrics: ServerMetrics(),
                                 interval: .seconds(max(1, seconds)), logger: logger)
        let server = WebServer(instance: interlock, loop: loop, secureCookies: secureCookies, version: InterlockVersion.current)
        print("interlock serve: http://\(host.contains(":") ? "[\(host)]" : host):\(port)/ — reconciling \(context.repository.source) every \(seconds) s; state in \(context.stateDirectory)")
        var services: [any Service] = []
        if let notifications = context.configuration.notifications {
            do {
                let worker = NotificationWorker(loop: loop, config: notifications, secrets: try Self.notificationSecrets(notifications), logger: logger)
                try worker.startCursor()
                services.append(worker)
            } catch {
                Terminal.error("\(error)")
                throw ExitCode(2)
            }
        }
        if let agentAddress {
            services.append(try agentListener(agentAddress, context: context, loop: loop, logger: logger))
        }
        do {
            try ServeRunner.run(server: server, host: host, port: port, logger: logger, also: services)
        } catch {
            Terminal.error("the server stopped: \(error)")
            throw ExitCode(2)
        }
        print("interlock serve: stopped")
    }

    /// The SMTP password and the webhooks' secrets, read from their files (first line) when the service starts.
    static func notificationSecrets(_ config: NotificationConfiguration) throws -> NotificationWorker.Secrets {
        func firstLine(_ path: String, what: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("cannot read \(what) from \(path): make the file readable by the service (and nobody else)")
            }
            let line = text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
            guard !line.isEmpty else { throw ValidationError("\(path) (\(what)) is empty") }
            return line
        }
        var secrets = NotificationWorker.Secrets()
        if let email = config.email, let file = email.passwordFile {
            secrets.smtpPassword = try firstLine(file, what: "notifications.email.passwordFile")
        }
        for hook in config.webhooks {
            if let file = hook.secretFile { secrets.webhookSecrets[hook.name] = try firstLine(file, what: "the secret of webhook '\(hook.name)'") }
        }
        return secrets
    }
}

extension ServeCommand {
    /// The HTTPS listener of the plant agents, with its TLS configuration (exit 2 when it cannot be used).
    func agentListener(_ address: String, context: QueueContext, loop: ReconcileLoop, logger: Logger) throws -> any Service {
        guard let (agentHost, agentPort) = ServeRunner.parseAddress(address) else {
            throw ValidationError("--agent-address must be host:port, e.g. :8443")
        }
        guard (agentTlsCert == nil) == (agentTlsKey == nil) else { throw ValidationError("give both --agent-tls-cert and --agent-tls-key, or neither") }
        do {
            let authority = try AgentAuthority.loadOrCreate(stateDirectory: context.stateDirectory)
            let certificatePEM: String, keyPEM: String
            if let agentTlsCert, let agentTlsKey {
                certificatePEM = try String(contentsOfFile: agentTlsCert, encoding: .utf8)
                keyPEM = try String(contentsOfFile: agentTlsKey, encoding: .utf8)
            } else {
                let names = agentHostname.isEmpty ? [ProcessInfo.processInfo.hostName, "localhost", "127.0.0.1"] : agentHostname
                (certificatePEM, keyPEM) = try authority.issueServerCertificate(hostnames: names)
            }
            let tls = try AgentListener.tlsConfiguration(certificatePEM: certificatePEM, keyPEM: keyPEM, authority: authority)
            let administration = AgentAdministration(store: context.store, authority: authority, configuration: context.configuration)
            let listener = AgentListener(administration: administration, clock: context.clock, loop: loop)
            print("interlock serve: agents connect to https://\(agentHost.contains(":") ? "[\(agentHost)]" : agentHost):\(agentPort)/agent/v1 (authority \(authority.fingerprint))")
            return try listener.makeApplication(host: agentHost, port: agentPort, tls: tls, logger: logger)
        } catch let error as ValidationError {
            throw error
        } catch {
            Terminal.error("the agent listener cannot start: \(error)")
            throw ExitCode(2)
        }
    }
}

/// `interlock hash-password`: the `passwordHash` of a user, or a new API token and its hash.
struct HashPasswordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password",
        abstract: "Print a PBKDF2 passwordHash for the instance configuration (password read from standard input), or a new API token.",
        discussion: """
            Reads the password from standard input (one line; on a terminal it is asked for twice without echo) and \
            prints 'pbkdf2-sha256$<iterations>$<salt>$<hash>' for a user's passwordHash. With --new-token, prints a new \
            random API token (give it to the machine, once) and the 'sha256:…' line for the user's apiTokens.
            """
    )

    @Option(name: .long, help: "PBKDF2-HMAC-SHA256 iterations.")
    var iterations: Int = PasswordHash.defaultIterations

    @Flag(name: .long, help: "Make a new API token instead of hashing a password.")
    var newToken = false

    func validate() throws {
        guard iterations >= 100_000 else { throw ValidationError("--iterations must be at least 100000") }
    }

    func run() throws {
        if newToken {
            let token = APIToken.generate()
            print("token:    \(token)")
            print("apiTokens entry: \(APIToken.hash(token))")
            return
        }
        let password: String
        if isatty(STDIN_FILENO) == 1 {
            guard let first = getpass("Password: ").map({ String(cString: $0) }), let second = getpass("Again: ").map({ String(cString: $0) }) else {
                throw ExitCode(2)
            }
            guard first == second else {
                Terminal.error("the passwords differ")
                throw ExitCode(1)
            }
            password = first
        } else {
            password = readLine(strippingNewline: true) ?? ""
        }
        guard password.count >= 8 else {
            Terminal.error("use a password of at least 8 characters")
            throw ExitCode(1)
        }
        print(PasswordHash(password: password, iterations: iterations).description)
    }
}
