import ArgumentParser
import Foundation
import InterlockAgent
import InterlockEngine
import InterlockModel
import InterlockServer
import InterlockStore

/// `interlock agent`: runs a plant's agent (the default), and the operators' and admins' commands for agents.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run a plant agent, or enrol, approve, list and revoke the agents of plants.",
        discussion: """
            A plant reached through its agent is never touched by the server: the agent, inside the plant's network, \
            opens every connection (HTTPS with mutual TLS) and applies the site's approved changes there. \
            'interlock agent enrol' makes a one-time token for a site; the agent on the plant host presents it \
            with a certificate request; an admin approves ('interlock agent approve'); the server issues the \
            agent a client certificate whose identity is the site. See docs/agent.md.
            """,
        subcommands: [AgentRunCommand.self, AgentEnrolCommand.self, AgentApproveCommand.self, AgentRejectCommand.self,
                      AgentListCommand.self, AgentRevokeCommand.self],
        defaultSubcommand: AgentRunCommand.self
    )
}

/// What the administrative agent commands share: the state directory's store and the agent authority in it.
struct AgentAdminContext {
    let context: QueueContext
    var administration: AgentAdministration

    init(instance: InstanceOptions, repository: RepositoryOptions, target: TargetOptions) throws {
        context = try QueueContext(instance: instance, repository: repository, target: target)
        let authority: AgentAuthority
        do {
            authority = try AgentAuthority.loadOrCreate(stateDirectory: context.stateDirectory)
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        administration = AgentAdministration(store: context.store, authority: authority, configuration: context.configuration)
    }

    /// Authenticates `signer` (password) and checks one of `roles` acting for `site` (every site when nil); refusals are audited.
    func authorise(_ signer: SignerOptions, verb: String, roles: Set<InstanceConfiguration.User.Role>, site: String?) throws -> AuditActor {
        let authenticated = try SignerAuthentication.authenticate(signer, verb: verb, context: context, site: site)
        let user = authenticated.user
        let allowed = !user.roles.isDisjoint(with: roles) && (site.map(user.actsFor) ?? user.sites.contains("*"))
        guard allowed else {
            let need = roles.map(\.rawValue).sorted().joined(separator: " or ")
            let message = "\(user.name) (\(user.id)) is not \(need == "admin" ? "an admin" : "an \(need)") acting for \(site ?? "every site")"
            try context.store.record([AuditEvent(
                actor: Person(id: user.id, name: user.name), role: user.title, authentication: authenticated.authentication, category: .access,
                action: "\(verb).refused", site: site, success: false, error: message)])
            context.checkpoint()
            Terminal.error("\(verb) refused: \(message)")
            throw ExitCode(1)
        }
        return AuditActor(id: user.id, name: user.name, role: user.title, authentication: authenticated.authentication)
    }

    func finish() { context.checkpoint() }
}

struct AgentEnrolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrol",
        abstract: "Make a one-time, expiring enrolment token for a site's agent (operator or admin acting for the site).",
        discussion: "Prints the token once (the state database keeps only its hash), the enrolment id, and the command to run on the plant host. The agent's request then waits for 'interlock agent approve'."
    )

    @Option(name: .long, help: "The site whose agent enrols (as named in the desired state).")
    var site: String

    @Option(name: .long, help: "How long the token can be used: 30m, 24h, 7d at most.")
    var expires: String = "24h"

    @OptionGroup var signer: SignerOptions
    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func validate() throws {
        guard Duration.seconds(expires) != nil else { throw ValidationError("--expires must be a duration such as 30m, 24h or 7d") }
    }

    func run() throws {
        let admin = try AgentAdminContext(instance: instance, repository: repository, target: target)
        let (state, _, _) = try admin.context.desiredState()
        guard let entry = state.sites.first(where: { $0.name == site }) else {
            Terminal.error("there is no site '\(site)' in the desired state (sites: \(state.sites.map(\.name).sorted().joined(separator: ", ")))")
            throw ExitCode(1)
        }
        let actor = try admin.authorise(signer, verb: "agent.enrol", roles: [.operator, .admin], site: site)
        let created = try admin.administration.createEnrolment(site: site, lifetime: Duration.seconds(expires)!, actor: actor)
        admin.finish()
        print("enrolment:  \(created.enrolment.id) for \(site) (\(entry.target.agentNote))")
        print("token:      \(created.token)")
        print("expires:    \(AuditTimestamp.format(created.enrolment.expiresAt))")
        print("authority:  \(admin.administration.authority.fingerprint) (\(admin.context.stateDirectory)/agent-ca/ca.pem)")
        print("")
        print("On the plant host, with the agent listener's CA certificate copied there:")
        print("  interlock agent --server https://SERVER:8443 --server-ca ca.pem --state-dir /var/lib/interlock-agent --token \(created.token)")
        print("then approve it here: interlock agent approve \(created.enrolment.id) --as ADMIN")
    }
}

struct AgentApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve an agent's enrolment request (admin): the server issues the agent's certificate for the enrolment's site.",
        discussion: "Compare the key fingerprint shown by 'interlock agent list' with the one the agent printed on the plant host before approving."
    )

    @Argument(help: "The enrolment, e.g. enr-0123456789abcdef.")
    var enrolment: String

    @Option(name: .long, help: "How long the first certificate is valid: 1m to 398d (default 30d). The agent renews it after two thirds of that; renewed certificates are valid 30 days.")
    var validity: String = "30d"

    @OptionGroup var signer: SignerOptions
    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func validate() throws {
        guard let seconds = Duration.seconds(validity), seconds >= 60, seconds <= 398 * 86400 else {
            throw ValidationError("--validity must be a duration from 1m to 398d, such as 12h or 30d (asked: '\(validity)')")
        }
    }

    func run() throws {
        var admin = try AgentAdminContext(instance: instance, repository: repository, target: target)
        admin.administration.certificateValidity = Duration.seconds(validity)!
        guard let found = try admin.context.store.enrolment(id: enrolment) else {
            Terminal.error("there is no agent enrolment \(enrolment) (see 'interlock agent list')")
            throw ExitCode(1)
        }
        let actor = try admin.authorise(signer, verb: "agent.approve", roles: [.admin], site: found.site)
        do {
            let (_, certificate) = try admin.administration.approve(enrolmentID: enrolment, actor: actor)
            admin.finish()
            print("approved \(enrolment): the agent of \(certificate.site) gets certificate \(certificate.serial) (key \(certificate.keyFingerprint.prefix(16))…, valid until \(AuditTimestamp.format(certificate.notAfter)))")
        } catch let error as AgentRegistryError {
            Terminal.error("\(error)")
            throw ExitCode(1)
        }
    }
}

struct AgentRejectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Reject an agent's enrolment request (admin).")

    @Argument(help: "The enrolment.")
    var enrolment: String

    @Option(name: .long, help: "Why (recorded).")
    var reason: String

    @OptionGroup var signer: SignerOptions
    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func run() throws {
        let admin = try AgentAdminContext(instance: instance, repository: repository, target: target)
        guard let found = try admin.context.store.enrolment(id: enrolment) else {
            Terminal.error("there is no agent enrolment \(enrolment) (see 'interlock agent list')")
            throw ExitCode(1)
        }
        let actor = try admin.authorise(signer, verb: "agent.reject", roles: [.admin], site: found.site)
        do {
            _ = try admin.administration.reject(enrolmentID: enrolment, actor: actor, reason: reason)
            admin.finish()
            print("rejected \(enrolment)")
        } catch let error as AgentRegistryError {
            Terminal.error("\(error)")
            throw ExitCode(1)
        }
    }
}

struct AgentRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a site's agent certificates, or one of them (operator or admin acting for the site). The agent is refused from its next request.",
        discussion: "To let the plant's agent in again, enrol it anew."
    )

    @Option(name: .long, help: "Revoke every valid certificate of this site.")
    var site: String?

    @Option(name: .long, help: "Revoke only the certificate with this serial (see 'interlock agent list').")
    var serial: String?

    @Option(name: .long, help: "Why (recorded).")
    var reason: String

    @OptionGroup var signer: SignerOptions
    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func validate() throws {
        guard (site == nil) != (serial == nil) else { throw ValidationError("give either --site or --serial") }
    }

    func run() throws {
        let admin = try AgentAdminContext(instance: instance, repository: repository, target: target)
        var scope = site
        if let serial {
            guard let certificate = try admin.context.store.certificate(serial: serial) else {
                Terminal.error("no agent certificate has the serial \(serial) (see 'interlock agent list')")
                throw ExitCode(1)
            }
            scope = certificate.site
        }
        let actor = try admin.authorise(signer, verb: "agent.revoke", roles: [.operator, .admin], site: scope)
        do {
            let revoked = try admin.administration.revoke(site: scope, serial: serial, actor: actor, reason: reason)
            admin.finish()
            for certificate in revoked { print("revoked \(certificate.serial) (agent of \(certificate.site))") }
        } catch let error as AgentRegistryError {
            Terminal.error("\(error)")
            throw ExitCode(1)
        }
    }
}

struct AgentListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List agent enrolments and certificates, with each agent's last contact.")

    @Option(name: .long, help: "Only this site.")
    var site: String?

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func run() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let enrolments = try context.store.enrolments(site: site)
        let certificates = try context.store.certificates(site: site)
        let now = Date()
        print("enrolments:")
        if enrolments.isEmpty { print("  none") }
        for enrolment in enrolments {
            var status = enrolment.status.rawValue
            if enrolment.status == .open && enrolment.expiresAt <= now { status = "expired" }
            var line = "  \(enrolment.id)  \(enrolment.site)  \(status)  created by \(enrolment.createdBy) \(AuditTimestamp.format(enrolment.createdAt))"
            if let key = enrolment.keyFingerprint { line += "  key \(key)" }
            if let from = enrolment.requestedFrom { line += "  from \(from)" }
            if let by = enrolment.decidedBy { line += "  decided by \(by)" }
            print(line)
        }
        print("certificates:")
        if certificates.isEmpty { print("  none") }
        for certificate in certificates {
            let state = certificate.revokedAt.map { "revoked \(AuditTimestamp.format($0)) by \(certificate.revokedBy ?? "?")" }
                ?? (certificate.notAfter <= now ? "expired" : "valid until \(AuditTimestamp.format(certificate.notAfter))")
            let contact = certificate.lastContact.map { "last contact \(AuditTimestamp.format($0)) from \(certificate.lastAddress ?? "?")" } ?? "never connected"
            print("  \(certificate.serial)  \(certificate.site)  \(state)  \(contact)")
        }
    }
}

extension Duration {
    /// `30s`, `30m`, `24h`, `7d` in seconds; nil for anything else.
    static func seconds(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let number = Double(text.dropLast()), number > 0, number.isFinite else { return nil }
        switch unit {
        case "s": return number
        case "m": return number * 60
        case "h": return number * 3600
        case "d": return number * 86400
        default: return nil
        }
    }
}

extension Target {
    /// How the server reaches a site: directly, or only through its agent.
    var agentNote: String {
        switch self {
        case .files(let root): "files \(root)"
        case .command(let spec): "command \(spec.arguments.first ?? "")"
        }
    }
}

struct AgentRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent of a plant (the default of 'interlock agent'): enrol once with a token, then stay in contact over mutual TLS.",
        discussion: """
            Every connection is opened by the agent (no port is opened in the plant). On first start it makes its key \
            in --state-dir and prints its fingerprint; with --token it asks to enrol and waits until an admin approves \
            ('interlock agent approve' on the server). Later starts need no token. Errors reaching the server are retried \
            with jittered back-off from 1 s to 5 minutes. Exit codes: 0 stopped (SIGTERM), 1 refused for good (token \
            used or expired, enrolment rejected, certificate revoked), 2 wrong options or an unreadable state directory.
            """
    )

    @Option(name: .long, help: "The server's agent listener, e.g. https://interlock.example.com:8443.")
    var server: String

    @Option(name: .long, help: "PEM file of the CA that signed the agent listener's certificate (default: the system's trust store).")
    var serverCA: String?

    @Option(name: .long, help: "Where the agent keeps its key and certificate.")
    var stateDir: String = "/var/lib/interlock-agent"

    @Option(name: .long, help: "The one-time enrolment token ('interlock agent enrol' on the server); only needed to enrol. Also $INTERLOCK_AGENT_TOKEN.")
    var token: String?

    @Option(name: .long, help: "An HTTP proxy (CONNECT) to reach the server through, e.g. http://dmz-proxy:3128.")
    var proxy: String?

    @Option(name: .long, help: "Seconds between heartbeats.")
    var interval: Double = 15

    @Flag(name: .long, help: "Enrol if needed, make one contact, and exit.")
    var once = false

    @Option(name: .long, help: "Where relative target roots resolve on this host; every target root must lie inside it.")
    var targetBase: String = "/var/lib/interlock-agent/targets"

    @Option(name: .long, help: "Seconds this host's clock may differ from the server's before the agent refuses to apply.")
    var clockTolerance: Double = 30

    func validate() throws {
        guard let url = URL(string: server), url.scheme == "https", url.host != nil else {
            throw ValidationError("--server must be an https:// URL, e.g. https://interlock.example.com:8443")
        }
        if let proxy { guard let url = URL(string: proxy), url.scheme == "http", url.host != nil else { throw ValidationError("--proxy must be http://host:port") } }
        guard interval >= 1, interval <= 3600 else { throw ValidationError("--interval must be between 1 and 3600 seconds") }
    }

    func run() throws {
        let logger = ServeRunner.makeLogger()
        let token = self.token ?? ProcessInfo.processInfo.environment["INTERLOCK_AGENT_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let agent: PlantAgent
        do {
            agent = try PlantAgent(options: .init(server: URL(string: server)!, serverCA: serverCA, stateDirectory: stateDir, token: token,
                                                  proxy: proxy.flatMap(URL.init(string:)), interval: interval, heartbeats: once ? 1 : nil,
                                                  targetBase: targetBase, clockTolerance: clockTolerance), logger: logger)
            print("interlock agent: key \(try agent.keyFingerprint()) in \(stateDir); server \(server)")
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        let outcome = Locked<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            do {
                try await agent.run()
                outcome.withLock { $0 = .success(()) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signals = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        done.wait()
        withExtendedLifetime(signals) {}
        switch outcome.current {
        case .failure(let error as PlantAgent.Stop):
            Terminal.error(error.message)
            throw ExitCode(1)
        case .failure(is CancellationError), .success, .none:
            print("interlock agent: stopped")
        case .failure(let error):
            Terminal.error("\(error)")
            throw ExitCode(1)
        }
    }
}
