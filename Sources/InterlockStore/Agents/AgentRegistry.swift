import Foundation
import InterlockEngine

/// An enrolment of a plant agent: created by an operator for one site with a one-time token, requested by the agent
/// with its certificate request, then approved or rejected by an admin. The token is kept only as its SHA-256.
public struct AgentEnrolment: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// Waiting for the agent to present the token.
        case open
        /// The agent sent its certificate request; waiting for an admin.
        case requested
        case approved
        case rejected
    }

    public var id: String
    public var site: String
    public var tokenHash: String
    public var status: Status
    public var createdAt: Date
    public var expiresAt: Date
    public var createdBy: String
    /// The agent's certificate request (PEM), once requested.
    public var request: String?
    /// SHA-256 of the agent's public key (hex), once requested: what the admin compares with the agent's log.
    public var keyFingerprint: String?
    public var requestedAt: Date?
    public var requestedFrom: String?
    public var decidedBy: String?
    public var decidedAt: Date?
    /// The serial of the certificate issued on approval.
    public var serial: String?

    public init(id: String, site: String, tokenHash: String, status: Status, createdAt: Date, expiresAt: Date, createdBy: String,
                request: String? = nil, keyFingerprint: String? = nil, requestedAt: Date? = nil, requestedFrom: String? = nil,
                decidedBy: String? = nil, decidedAt: Date? = nil, serial: String? = nil) {
        self.id = id
        self.site = site
        self.tokenHash = tokenHash
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.createdBy = createdBy
        self.request = request
        self.keyFingerprint = keyFingerprint
        self.requestedAt = requestedAt
        self.requestedFrom = requestedFrom
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.serial = serial
    }
}

/// A client certificate issued to a plant's agent: the site it speaks for (decided by the server at enrolment), its
/// validity, whether it was revoked, and when the agent was last heard from.
public struct AgentCertificate: Sendable, Hashable {
    public var serial: String
    public var site: String
    public var enrolmentID: String
    /// SHA-256 of the certificate's DER encoding, hex.
    public var fingerprint: String
    public var keyFingerprint: String
    public var notBefore: Date
    public var notAfter: Date
    public var pem: String
    public var issuedAt: Date
    /// The certificate this one renewed, if any.
    public var renews: String?
    public var revokedAt: Date?
    public var revokedBy: String?
    public var lastContact: Date?
    public var lastAddress: String?

    public init(serial: String, site: String, enrolmentID: String, fingerprint: String, keyFingerprint: String, notBefore: Date, notAfter: Date,
                pem: String, issuedAt: Date, renews: String? = nil, revokedAt: Date? = nil, revokedBy: String? = nil, lastContact: Date? = nil,
                lastAddress: String? = nil) {
        self.serial = serial
        self.site = site
        self.enrolmentID = enrolmentID
        self.fingerprint = fingerprint
        self.keyFingerprint = keyFingerprint
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.pem = pem
        self.issuedAt = issuedAt
        self.renews = renews
        self.revokedAt = revokedAt
        self.revokedBy = revokedBy
        self.lastContact = lastContact
        self.lastAddress = lastAddress
    }
}

/// The agents of the plants: enrolments and issued certificates, kept in the state database next to the audit log.
/// Every change is written together with the audit records that describe it, in one transaction, and every state
/// change is a compare-and-set: a token is used once, an enrolment is decided once.
public protocol AgentRegistry: AgentObservationSource {
    func createEnrolment(_ enrolment: AgentEnrolment, entries: [AuditEntry]) throws
    func enrolment(id: String) throws -> AgentEnrolment?
    /// Enrolments, newest first (one site's when `site` is given).
    func enrolments(site: String?) throws -> [AgentEnrolment]
    /// The agent presents the token: the open, unexpired enrolment with this token hash becomes `requested` with the
    /// certificate request. Nil (nothing written, `refusal` entries appended instead) when no such enrolment exists.
    func requestEnrolment(tokenHash: String, request: String, keyFingerprint: String, at date: Date, from address: String,
                          entries: (AgentEnrolment) -> [AuditEntry], refusal: [AuditEntry]) throws -> AgentEnrolment?
    /// Approves a requested enrolment and stores the certificate issued for it, or (with `certificate` nil) rejects it.
    /// Throws `AgentRegistryError.conflict` when the enrolment is not `requested` any more.
    func decideEnrolment(id: String, by user: String, at date: Date, certificate: AgentCertificate?, entries: [AuditEntry]) throws -> AgentEnrolment
    /// Stores a certificate issued by renewal (its predecessor stays valid until it expires or is revoked).
    func addCertificate(_ certificate: AgentCertificate, entries: [AuditEntry]) throws
    func certificate(serial: String) throws -> AgentCertificate?
    /// Certificates, newest first (one site's when `site` is given).
    func certificates(site: String?) throws -> [AgentCertificate]
    /// Revokes the given certificates that are not revoked yet; returns those it revoked.
    func revokeCertificates(serials: [String], by user: String, at date: Date, entries: [AuditEntry]) throws -> [AgentCertificate]
    /// Records when an agent was last heard from (never backwards).
    func recordContact(serial: String, at date: Date, from address: String) throws
    /// Keeps an agent's complete report of its site's live state (replacing the previous one).
    func saveObservation(site: String, report: LiveReport, at date: Date, serial: String) throws
    /// An agent's short report ("unchanged"): true, and the stored report's time moved, when the stored report has
    /// this fingerprint and desired version; false when the agent must send the whole report.
    func confirmObservation(site: String, fingerprint: String, desiredVersion: String, at date: Date, serial: String) throws -> Bool
    /// The stored report of a site, if any.
    func storedObservation(site: String) throws -> (report: LiveReport, reportedAt: Date, serial: String)?
}

extension AgentRegistry {
    /// The live state the site's agent last reported, decoded (what the server plans against).
    public func observation(site: String) throws -> AgentObservation? {
        guard let stored = try storedObservation(site: site) else { return nil }
        return AgentObservation(site: site, live: try stored.report.liveState(), desiredVersion: stored.report.desiredVersion,
                                reportedAt: stored.reportedAt, agent: stored.serial)
    }
}

public struct AgentRegistryError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notFound = "not-found"
        case conflict
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
