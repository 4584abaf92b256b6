import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import InterlockAgent
import InterlockEngine
import InterlockModel
import InterlockStore
import Logging
import NIOCore
import NIOSSL
import X509

/// The request context of the agent listener: the connection, so a route can read the client certificate the TLS
/// handshake verified.
public struct AgentContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var remoteAddress: String
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "local"
        channel = source.channel
    }

    /// The DER bytes of the client certificate the handshake verified against the agent authority, if one was presented.
    func peerCertificate() async throws -> [UInt8]? {
        let channel = self.channel
        return try await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            return try handler.peerCertificate?.toDERBytes()
        }.get()
    }
}

/// The HTTPS listener plant agents connect to (outbound from the plant): enrolment with a one-time token, then
/// everything else with the client certificate issued at enrolment (mutual TLS). docs/agent.md describes it.
public final class AgentListener: Sendable {
    public let administration: AgentAdministration
    /// The gate clock (simulated in a rehearsal): only for gates. Certificates, contacts and reports use real time.
    public let clock: any InterlockClock
    /// The reconcile loop: the desired state it last loaded, and a pass on demand when an agent reports.
    public let loop: ReconcileLoop?
    let failures = FailureAggregator(window: 600)
    /// Each site's desired resources as of a reconcile pass: compiled once per pass, not once per waiting agent.
    let desiredCache = Locked<[String: (pass: Int, desired: AgentProtocol.Desired)]>([:])
    /// The long polls waiting for the next reconcile pass.
    let passWaiters: PassWaiters
    public static let version = "0.1.0"
    /// The longest a long poll is held open.
    public static let maximumWait: Double = 55
    /// The largest live-state report accepted.
    public static let maximumReport = 32 << 20

    public init(administration: AgentAdministration, clock: any InterlockClock, loop: ReconcileLoop? = nil) {
        self.administration = administration
        self.clock = clock
        self.loop = loop
        passWaiters = PassWaiters(passes: { loop?.observations.passes ?? 0 })
    }

    var store: any StateStore { administration.store }

    /// The TLS configuration: the server's certificate and key; client certificates verified against the agent
    /// authority when presented (enrolment comes without one).
    public static func tlsConfiguration(certificatePEM: String, keyPEM: String, authority: AgentAuthority) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .optionalVerification
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(authority.certificatePEM.utf8)))
        return tls
    }

    public func makeRouter() -> Router<AgentContext> {
        let router = Router(context: AgentContext.self)
        router.add(middleware: AgentErrorMiddleware())
        let agent = router.group("/agent/v1")
        agent.post("enrol") { request, context in
            let body: AgentProtocol.EnrolRequest = try await Self.decode(request, AgentProtocol.EnrolRequest.self)
            guard body.token.utf8.count <= 200 else { throw ServerError(.badRequest, "the enrolment token is longer than 200 characters") }
            let address = context.remoteAddress
            let enrolment: AgentEnrolment
            do {
                enrolment = try await offload { [administration = self.administration, now = Date()] in
                    try administration.request(token: body.token, csr: body.csr, address: address, now: now)
                }
            } catch let error as AgentError {
                throw ServerError(error.message.hasPrefix("the enrolment token") ? .forbidden : .badRequest, error.message)
            }
            return try Self.json(Self.state(enrolment, certificate: nil), status: .accepted)
        }
        agent.get("enrolments/:id") { _, context in
            let id = try context.parameters.require("id")
            guard id.utf8.count <= 64, let enrolment = try await offload({ [store = self.store] in try store.enrolment(id: id) }) else {
                throw ServerError(.notFound, "there is no such enrolment")
            }
            let certificate = try await offload { [store = self.store] in try enrolment.serial.flatMap { try store.certificate(serial: $0) } }
            return try Self.json(Self.state(enrolment, certificate: certificate))
        }
        agent.post("sites/:site/hello") { request, context in
            let certificate = try await self.authenticate(context, site: try context.parameters.require("site"), action: "hello")
            _ = try await Self.decode(request, AgentProtocol.Hello.self)
            let now = Date()
            try await self.touch(certificate, context)
            let renewAfter = certificate.notBefore.addingTimeInterval(certificate.notAfter.timeIntervalSince(certificate.notBefore) * 2 / 3)
            return try Self.json(AgentProtocol.HelloAnswer(site: certificate.site, serverTime: now, serial: certificate.serial,
                                                           notAfter: certificate.notAfter, renewAfter: renewAfter))
        }
        agent.post("sites/:site/observations") { request, context in
            let site = try context.parameters.require("site")
            let certificate = try await self.authenticate(context, site: site, action: "observations")
            let body = try await FormFields.collectBody(request, limit: Self.maximumReport)
            let report: LiveReport
            do {
                report = try AgentProtocol.decoder().decode(LiveReport.self, from: Data(buffer: body))
            } catch {
                throw ServerError(.badRequest, "the report is not the JSON this route takes (docs/agent.md): \(error)")
            }
            let now = Date()
            let store = self.store
            try await self.touch(certificate, context)
            if report.resources == nil {
                let confirmed = try await offload {
                    try store.confirmObservation(site: site, fingerprint: report.fingerprint, desiredVersion: report.desiredVersion, at: now, serial: certificate.serial)
                }
                guard confirmed else { throw ServerError(.conflict, "the server holds another report of \(site): send the whole report") }
                return try Self.json(AgentProtocol.ReportAnswer(stored: false))
            }
            do {
                _ = try report.liveState()
            } catch {
                throw ServerError(.badRequest, "the report of \(site) is refused: \(error)")
            }
            try await offload { try store.saveObservation(site: site, report: report, at: now, serial: certificate.serial) }
            // Planned at once from what the agent saw (drift shows centrally as it does for other sites).
            self.loop?.trigger()
            return try Self.json(AgentProtocol.ReportAnswer(stored: true))
        }
        addApplyRoutes(agent)
        agent.post("sites/:site/renew") { request, context in
            let current = try await self.authenticate(context, site: try context.parameters.require("site"), action: "renew")
            let body = try await Self.decode(request, AgentProtocol.RenewRequest.self)
            let renewed: AgentCertificate
            do {
                renewed = try await offload { [administration = self.administration, now = Date()] in
                    try administration.renew(for: current, csr: body.csr, now: now)
                }
            } catch let error as AgentError {
                throw ServerError(.badRequest, error.message)
            }
            return try Self.json(AgentProtocol.RenewAnswer(certificate: renewed.pem, serial: renewed.serial, notAfter: renewed.notAfter))
        }
        return router
    }

    /// When the agent was last heard from (for "agent offline").
    func touch(_ certificate: AgentCertificate, _ context: AgentContext) async throws {
        let now = Date()
        try await offload { [store = self.store, address = context.remoteAddress] in
            try store.recordContact(serial: certificate.serial, at: now, from: address)
        }
    }

    /// What the agent of `site` observes against: the desired resources of the state the loop last loaded.
    func desired(site name: String) throws -> AgentProtocol.Desired {
        // The pass is read before the state it loaded: a cached entry is at worst one pass old, never newer.
        let pass = loop?.observations.passes ?? -1
        if let cached = desiredCache.withLock({ $0[name] }), cached.pass == pass { return cached.desired }
        let desired = try compileDesired(site: name)
        desiredCache.withLock { $0[name] = (pass, desired) }
        return desired
    }

    func compileDesired(site name: String) throws -> AgentProtocol.Desired {
        guard let loaded = loop?.observations.loaded else {
            throw ServerError(.serviceUnavailable, "the server has not read the desired state yet; try again shortly")
        }
        guard let site = loaded.state.site(named: name) else {
            throw ServerError(.notFound, "there is no site \(name) in the desired state at commit \(loaded.commitID?.prefix(10) ?? "?")")
        }
        guard site.reach == .agent, case .files(let root) = site.target else {
            throw ServerError(.conflict, "\(name) is not reached through its agent (its target has no 'via: agent' in \(site.file))")
        }
        let compilation = loaded.state.compile(site: site)
        guard !compilation.diagnostics.contains(where: { $0.severity == .error }) else {
            throw ServerError(.serviceUnavailable, "\(name) does not compile at commit \(loaded.commitID?.prefix(10) ?? "?"); nothing to observe against yet")
        }
        let resources = compilation.site.resources
        return AgentProtocol.Desired(
            site: name, commit: loaded.commitID, version: AgentObservation.desiredVersion(of: resources), root: root,
            resources: resources.sorted { $0.path < $1.path }.map { .init(path: $0.path, hash: $0.contentHash) })
    }

    static func state(_ enrolment: AgentEnrolment, certificate: AgentCertificate?) -> AgentProtocol.EnrolmentState {
        AgentProtocol.EnrolmentState(
            enrolment: enrolment.id, site: enrolment.site, status: enrolment.status.rawValue, keyFingerprint: enrolment.keyFingerprint ?? "",
            certificate: enrolment.status == .approved ? certificate?.pem : nil)
    }

    /// The agent certificate of the request: verified by the handshake, issued by this instance, not revoked, and for
    /// `site`. Anything else is refused (403) and audited.
    func authenticate(_ context: AgentContext, site: String, action: String) async throws -> AgentCertificate {
        guard let der = try await context.peerCertificate() else {
            throw ServerError(.unauthorized, "this route needs the agent's client certificate (mutual TLS)")
        }
        let address = context.remoteAddress
        let presented = try Certificate(derEncoded: der)
        let serial = AgentAuthority.serialText(presented.serialNumber)
        let known = try await offload { [store = self.store] in try store.certificate(serial: serial) }
        let fingerprint = AgentAuthority.certificateFingerprint(presented)
        let now = Date()
        func refuse(_ status: HTTPResponse.Status, _ message: String, site certificateSite: String?) async throws -> Never {
            let actor = known.map(AgentAdministration.actor(of:))
                ?? AuditActor(id: "agent:unknown", name: "unknown agent", role: "unauthenticated", authentication: "mtls (certificate \(serial.prefix(16)))")
            try await auditFailure(AuditEntry(
                actor: actor, category: .access, action: "agent.access.denied", site: site, result: .failure, error: message,
                details: ["remoteAddress": address, "serial": serial, "certificateSite": certificateSite ?? "", "route": action]),
                subject: "\(serial)@\(site)", address: address)
            throw ServerError(status, message)
        }
        guard let known, known.fingerprint == fingerprint else {
            try await refuse(.forbidden, "this certificate was not issued to an agent of this instance", site: AgentAuthority.site(of: presented))
        }
        if known.revokedAt != nil {
            try await refuse(.forbidden, "this agent certificate was revoked; enrol the agent again", site: known.site)
        }
        guard known.notAfter > now, known.notBefore <= now.addingTimeInterval(300) else {
            try await refuse(.forbidden, "this agent certificate is not valid now (valid until \(AuditTimestamp.format(known.notAfter)))", site: known.site)
        }
        guard known.site == site, AgentAuthority.site(of: presented) == site else {
            try await refuse(.forbidden, "this certificate speaks for \(known.site), not for \(site)", site: known.site)
        }
        return known
    }

    /// Records a refusal if it is the first of its caller in the window (the repeats are counted, as for the console).
    func auditFailure(_ entry: AuditEntry, subject: String, address: String) async throws {
        let (decision, due) = failures.note(action: entry.action, subject: subject, address: address, now: Date())
        var entries = due.map { counted in
            AuditEntry(
                actor: AuditActor(id: "agent:unknown", name: "agents refused repeatedly", role: "unauthenticated", authentication: "mtls"),
                category: .access, action: "access.failures.repeated", result: .failure,
                error: "\(counted.count) more \(counted.key.action) for \(counted.key.subject) after the first was recorded",
                details: ["failedAction": counted.key.action, "subject": counted.key.subject, "count": String(counted.count),
                          "remoteAddress": counted.address, "from": AuditTimestamp.format(counted.started), "to": AuditTimestamp.format(counted.last)])
        }
        if decision == .record { entries.append(entry) }
        guard !entries.isEmpty else { return }
        try await offload { [store = self.store, entries] in _ = try store.append(contentsOf: entries) }
    }

    static func decode<T: Decodable>(_ request: Request, _ type: T.Type) async throws -> T {
        let body = try await FormFields.collectBody(request, limit: AgentProtocol.maximumBody)
        do {
            return try AgentProtocol.decoder().decode(T.self, from: Data(buffer: body))
        } catch {
            throw ServerError(.badRequest, "the request body is not the JSON this route takes (docs/agent.md): \(error)")
        }
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        var data = try AgentProtocol.encoder().encode(value)
        data.append(0x0A)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The HTTPS application on `host:port`.
    public func makeApplication(host: String, port: Int, tls: TLSConfiguration, logger: Logger) throws -> some ApplicationProtocol {
        Application(router: makeRouter(), server: try .tls(.http1(), tlsConfiguration: tls),
                    configuration: .init(address: .hostname(host, port: port), serverName: nil), logger: logger)
    }
}

/// Errors as JSON `{"error": {"status", "message"}}`; anything unexpected is a 500 without details.
struct AgentErrorMiddleware: RouterMiddleware {
    typealias Context = AgentContext

    func handle(_ request: Request, context: AgentContext, next: (Request, AgentContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let failure: ServerError
            switch error {
            case let known as ServerError: failure = known
            case let http as HTTPError: failure = ServerError(http.status, http.body ?? http.status.reasonPhrase)
            default:
                context.logger.error("agent request failed: \(error)")
                failure = ServerError(.internalServerError, "something went wrong on the server; the details are in its log")
            }
            let body = AgentProtocol.ErrorBody(error: .init(status: failure.status.code, message: failure.message))
            return (try? AgentListener.json(body, status: failure.status)) ?? Response(status: failure.status)
        }
    }
}
