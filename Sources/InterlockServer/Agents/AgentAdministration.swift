import Crypto
import Foundation
import InterlockAgent
import InterlockModel
import InterlockStore

/// What operators and admins do with plant agents — enrol a site, approve or reject an enrolment, revoke certificates —
/// and what the agent listener does for the agents themselves. Every step is one transaction with its audit records.
public struct AgentAdministration: Sendable {
    public let store: any StateStore
    public let authority: AgentAuthority
    public let configuration: InstanceConfiguration
    /// How long an agent certificate is valid; agents renew after two thirds of it.
    public var certificateValidity: TimeInterval = 30 * 86400

    public init(store: any StateStore, authority: AgentAuthority, configuration: InstanceConfiguration) {
        self.store = store
        self.authority = authority
        self.configuration = configuration
    }

    /// Enrolment tokens live at most this long.
    public static let maximumTokenLifetime: TimeInterval = 7 * 86400

    public struct NewEnrolment: Sendable {
        public var enrolment: AgentEnrolment
        /// Shown once; the store keeps only its hash.
        public var token: String
    }

    /// A one-time, expiring enrolment token for `site`'s agent. The caller authenticated `actor` as an operator or admin.
    public func createEnrolment(site: String, lifetime: TimeInterval, actor: AuditActor, now: Date = Date()) throws -> NewEnrolment {
        guard lifetime > 0, lifetime <= Self.maximumTokenLifetime else {
            throw AgentError("an enrolment token lives between 1 second and 7 days (asked: \(Int(lifetime)) s)")
        }
        let token = "ilk_enrol_" + Base64URL.random(32)
        let enrolment = AgentEnrolment(
            id: "enr-" + Self.randomHex(8), site: site, tokenHash: Self.tokenHash(token), status: .open, createdAt: now,
            expiresAt: now.addingTimeInterval(lifetime), createdBy: actor.id)
        try store.createEnrolment(enrolment, entries: [AuditEntry(
            actor: actor, category: .access, action: "agent.enrolment.created", site: site, resource: enrolment.id,
            details: ["enrolment": enrolment.id, "expiresAt": AuditTimestamp.format(enrolment.expiresAt)])])
        return NewEnrolment(enrolment: enrolment, token: token)
    }

    /// The agent presents a token and its certificate request. Refused (and audited) unless the token is open and unexpired.
    public func request(token: String, csr: String, address: String, now: Date = Date()) throws -> AgentEnrolment {
        let request = try AgentAuthority.Request(pem: csr)
        let refusal = AuditEntry(
            actor: AuditActor(id: "unknown-agent", name: "unknown agent", role: "unauthenticated", authentication: "enrolment-token"),
            category: .access, action: "agent.enrolment.refused", result: .failure,
            error: "an enrolment token that is unknown, used or expired", details: ["remoteAddress": address])
        guard let enrolment = try store.requestEnrolment(
            tokenHash: Self.tokenHash(token), request: request.pem, keyFingerprint: request.keyFingerprint, at: now, from: address,
            entries: { enrolment in
                [AuditEntry(actor: Self.enrollingActor(enrolment), category: .access, action: "agent.enrolment.requested", site: enrolment.site,
                            resource: enrolment.id, details: ["enrolment": enrolment.id, "keyFingerprint": request.keyFingerprint, "remoteAddress": address])]
            }, refusal: [refusal])
        else {
            throw AgentError("the enrolment token is unknown, already used or expired: ask an operator for a new one ('interlock agent enrol --site …')")
        }
        return enrolment
    }

    /// Approves a requested enrolment: issues the agent's certificate for the enrolment's site.
    public func approve(enrolmentID: String, actor: AuditActor, now: Date = Date()) throws -> (AgentEnrolment, AgentCertificate) {
        guard let enrolment = try store.enrolment(id: enrolmentID) else { throw AgentRegistryError(.notFound, "there is no agent enrolment \(enrolmentID)") }
        guard enrolment.status == .requested, let pem = enrolment.request else {
            throw AgentRegistryError(.conflict, "the enrolment \(enrolmentID) is \(enrolment.status.rawValue), not waiting for a decision")
        }
        let issued = try authority.issueAgentCertificate(for: try AgentAuthority.Request(pem: pem), site: enrolment.site, now: now, validity: certificateValidity)
        let certificate = AgentCertificate(
            serial: issued.serial, site: enrolment.site, enrolmentID: enrolment.id, fingerprint: issued.fingerprint, keyFingerprint: issued.keyFingerprint,
            notBefore: issued.certificate.notValidBefore, notAfter: issued.certificate.notValidAfter, pem: issued.pem, issuedAt: now)
        let decided = try store.decideEnrolment(id: enrolmentID, by: actor.id, at: now, certificate: certificate, entries: [AuditEntry(
            actor: actor, category: .access, action: "agent.enrolment.approved", site: enrolment.site, resource: enrolment.id,
            details: ["enrolment": enrolment.id, "serial": issued.serial, "keyFingerprint": issued.keyFingerprint,
                      "notAfter": AuditTimestamp.format(issued.certificate.notValidAfter)])])
        return (decided, certificate)
    }

    public func reject(enrolmentID: String, actor: AuditActor, reason: String?, now: Date = Date()) throws -> AgentEnrolment {
        guard let enrolment = try store.enrolment(id: enrolmentID) else { throw AgentRegistryError(.notFound, "there is no agent enrolment \(enrolmentID)") }
        return try store.decideEnrolment(id: enrolmentID, by: actor.id, at: now, certificate: nil, entries: [AuditEntry(
            actor: actor, category: .access, action: "agent.enrolment.rejected", site: enrolment.site, resource: enrolment.id, reason: reason,
            details: ["enrolment": enrolment.id])])
    }

    /// Revokes every valid certificate of `site` (or only `serial`). Returns what was revoked.
    public func revoke(site: String?, serial: String?, actor: AuditActor, reason: String?, now: Date = Date()) throws -> [AgentCertificate] {
        // A serial stands for the agent it was issued to: every valid certificate of the same enrolment (its renewals
        // and the one it renewed) goes with it, so an older or newer copy cannot go on speaking for the site.
        let all = try store.certificates(site: site)
        let enrolments = Set(all.filter { serial == nil || $0.serial == serial }.map(\.enrolmentID))
        let candidates = all.filter { $0.revokedAt == nil && (serial == nil || enrolments.contains($0.enrolmentID)) }
        guard !candidates.isEmpty else {
            throw AgentRegistryError(.notFound, serial.map { "no valid agent certificate has the serial \($0)" } ?? "the site \(site ?? "") has no valid agent certificate")
        }
        let entries = candidates.map { certificate in
            AuditEntry(actor: actor, category: .access, action: "agent.certificate.revoked", site: certificate.site, resource: certificate.serial, reason: reason,
                       details: ["serial": certificate.serial, "enrolment": certificate.enrolmentID])
        }
        return try store.revokeCertificates(serials: candidates.map(\.serial), by: actor.id, at: now, entries: entries)
    }

    // MARK: - The agents' side

    /// Who an agent is in the audit log: its site and certificate.
    public static func actor(of certificate: AgentCertificate) -> AuditActor {
        AuditActor(id: "agent:\(certificate.site)", name: "agent of \(certificate.site)", role: "agent",
                   authentication: "mtls (certificate \(certificate.serial.prefix(16)))")
    }

    static func enrollingActor(_ enrolment: AgentEnrolment) -> AuditActor {
        AuditActor(id: "agent:\(enrolment.site)", name: "agent of \(enrolment.site) (enrolling)", role: "agent", authentication: "enrolment-token")
    }

    /// A new certificate for an agent that holds a valid one (its key may be new). The old one stays valid until it expires.
    public func renew(for current: AgentCertificate, csr: String, now: Date = Date()) throws -> AgentCertificate {
        let request = try AgentAuthority.Request(pem: csr)
        let issued = try authority.issueAgentCertificate(for: request, site: current.site, now: now, validity: certificateValidity)
        let certificate = AgentCertificate(
            serial: issued.serial, site: current.site, enrolmentID: current.enrolmentID, fingerprint: issued.fingerprint,
            keyFingerprint: issued.keyFingerprint, notBefore: issued.certificate.notValidBefore, notAfter: issued.certificate.notValidAfter,
            pem: issued.pem, issuedAt: now, renews: current.serial)
        try store.addCertificate(certificate, entries: [AuditEntry(
            actor: Self.actor(of: current), category: .access, action: "agent.certificate.renewed", site: current.site, resource: certificate.serial,
            details: ["serial": certificate.serial, "renews": current.serial, "keyFingerprint": issued.keyFingerprint,
                      "notAfter": AuditTimestamp.format(certificate.notAfter)])])
        return certificate
    }

    static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
