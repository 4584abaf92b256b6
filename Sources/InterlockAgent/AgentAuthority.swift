import Crypto
import Foundation
import SwiftASN1
import X509

/// The certificate authority of an instance's plant agents: a P-256 key and a self-signed certificate in the state
/// directory (`agent-ca/`), created on first use. It signs the agents' client certificates (whose site the server
/// decides at enrolment, never the request) and the agent listener's own server certificate when none is given.
///
/// Every replica of `interlock serve` must hold the same `agent-ca/` (copy it, as the TLS certificate of the console).
public struct AgentAuthority: Sendable {
    public static let directoryName = "agent-ca"
    /// The URI in an agent certificate's subject alternative names that names its site.
    public static let siteURIPrefix = "urn:interlock:agent:site:"

    public let certificate: Certificate
    private let key: Certificate.PrivateKey

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }
    /// SHA-256 of the authority's certificate (DER), `sha256:<hex>`: what an agent's operator compares.
    public var fingerprint: String { "sha256:" + AgentAuthority.hex(SHA256.hash(data: (try? AgentAuthority.der(certificate)) ?? [])) }

    init(certificate: Certificate, key: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.key = Certificate.PrivateKey(key)
    }

    /// The authority in `stateDirectory/agent-ca`, created there (key file 0600) when it does not exist yet.
    public static func loadOrCreate(stateDirectory: String, now: Date = Date()) throws -> AgentAuthority {
        let directory = stateDirectory + "/" + directoryName
        let keyPath = directory + "/ca.key", certificatePath = directory + "/ca.pem"
        let manager = FileManager.default
        if manager.fileExists(atPath: keyPath) || manager.fileExists(atPath: certificatePath) {
            return try load(keyPath: keyPath, certificatePath: certificatePath)
        }
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Interlock")
            CommonName("Interlock plant agent authority")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey, notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86400), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        try writeSecret(key.pemRepresentation, to: keyPath)
        try Data(try certificate.serializeAsPEM().pemString.utf8).write(to: URL(fileURLWithPath: certificatePath), options: .atomic)
        return AgentAuthority(certificate: certificate, key: key)
    }

    static func load(keyPath: String, certificatePath: String) throws -> AgentAuthority {
        func read(_ path: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw AgentError("cannot read \(path): the agent authority is incomplete; restore agent-ca/ from a backup or another replica")
            }
            return text
        }
        let key: P256.Signing.PrivateKey
        let certificate: Certificate
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: read(keyPath))
            certificate = try Certificate(pemEncoded: read(certificatePath))
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError("\(keyPath) or \(certificatePath) is not a P-256 key and its certificate in PEM: \(error)")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw AgentError("\(certificatePath) is not the certificate of \(keyPath): restore both from the same backup")
        }
        return AgentAuthority(certificate: certificate, key: key)
    }

    /// What an issued certificate is, for the registry.
    public struct Issued: Sendable {
        public var certificate: Certificate
        public var pem: String
        public var serial: String
        public var fingerprint: String
        public var keyFingerprint: String
    }

    /// A certificate request, checked: its signature proves the requester holds the key.
    public struct Request: Sendable {
        public var request: CertificateSigningRequest
        public var pem: String
        public var keyFingerprint: String

        /// Parses and checks a PEM certificate request (at most 16 KiB; P-256 or P-384 keys).
        public init(pem: String) throws {
            guard pem.utf8.count <= 16 * 1024 else { throw AgentError("the certificate request is larger than 16 KiB") }
            let request: CertificateSigningRequest
            do {
                request = try CertificateSigningRequest(pemEncoded: pem)
            } catch {
                throw AgentError("the certificate request is not a PEM CERTIFICATE REQUEST: \(error)")
            }
            guard request.publicKey.isValidSignature(request.signature, for: request) else {
                throw AgentError("the certificate request's signature does not match its key")
            }
            switch request.signatureAlgorithm {
            case .ecdsaWithSHA256, .ecdsaWithSHA384: break
            default: throw AgentError("the certificate request must use an ECDSA P-256 or P-384 key (it uses \(request.signatureAlgorithm))")
            }
            self.request = request
            self.pem = pem
            self.keyFingerprint = AgentAuthority.keyFingerprint(request.publicKey)
        }
    }

    /// A client certificate for the agent of `site`, for the key of `request`. The subject and the site come from the
    /// server (the request's subject is ignored).
    public func issueAgentCertificate(for request: Request, site: String, now: Date = Date(), validity: TimeInterval = 30 * 86400) throws -> Issued {
        let subject = try DistinguishedName {
            OrganizationName("Interlock plant agents")
            CommonName("agent of \(site)")
        }
        return try issue(publicKey: request.request.publicKey, subject: subject, now: now, validity: validity) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
            SubjectAlternativeNames([.uniformResourceIdentifier(AgentAuthority.siteURIPrefix + site)])
        }
    }

    /// A server certificate for the agent listener (`hostnames` as DNS names or IP addresses), with a new key.
    public func issueServerCertificate(hostnames: [String], now: Date = Date(), validity: TimeInterval = 365 * 86400) throws -> (certificatePEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Interlock")
            CommonName(hostnames.first ?? "interlock")
        }
        let names: [GeneralName] = hostnames.map { name in
            if let address = AgentAuthority.ipAddressBytes(name) { return .ipAddress(ASN1OctetString(contentBytes: address[...])) }
            return .dnsName(name)
        }
        let issued = try issue(publicKey: Certificate.PublicKey(key.publicKey), subject: subject, now: now, validity: validity) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(names)
        }
        return (issued.pem, key.pemRepresentation)
    }

    private func issue(publicKey: Certificate.PublicKey, subject: DistinguishedName, now: Date, validity: TimeInterval,
                       @ExtensionsBuilder extensions: () throws -> Result<Certificate.Extensions, any Error>) throws -> Issued {
        var all = try extensions().get()
        try all.append(Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier), critical: false))
        try all.append(Certificate.Extension(SubjectKeyIdentifier(hash: publicKey), critical: false))
        let serial = Certificate.SerialNumber()
        let issued = try Certificate(
            version: .v3, serialNumber: serial, publicKey: publicKey, notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(validity),
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: all,
            issuerPrivateKey: key)
        return Issued(certificate: issued, pem: try issued.serializeAsPEM().pemString, serial: AgentAuthority.serialText(issued.serialNumber),
                      fingerprint: AgentAuthority.certificateFingerprint(issued), keyFingerprint: AgentAuthority.keyFingerprint(publicKey))
    }

    // MARK: - Small helpers

    public static func serialText(_ serial: Certificate.SerialNumber) -> String { hex(serial.bytes) }

    public static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    public static func certificateFingerprint(_ certificate: Certificate) -> String {
        hex(SHA256.hash(data: (try? der(certificate)) ?? []))
    }

    public static func keyFingerprint(_ key: Certificate.PublicKey) -> String {
        hex(SHA256.hash(data: Array(key.subjectPublicKeyInfoBytes)))
    }

    /// The site an agent certificate names in its subject alternative names, if any.
    public static func site(of certificate: Certificate) -> String? {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return nil }
        for name in names {
            if case .uniformResourceIdentifier(let uri) = name, uri.hasPrefix(siteURIPrefix) { return String(uri.dropFirst(siteURIPrefix.count)) }
        }
        return nil
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Writes `text` to `path` readable by its owner only (a private key).
    public static func writeSecret(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AgentError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw AgentError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// What went wrong with an agent, its enrolment or its certificates, said for the person who must act.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
