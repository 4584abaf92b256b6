import Foundation

/// The JSON bodies of the agent protocol (docs/agent.md, docs/openapi.yaml). Every route is under `/agent/v1`.
public enum AgentProtocol {
    public static let version = "v1"
    /// The largest request body an agent route accepts.
    public static let maximumBody = 64 * 1024

    /// `POST /agent/v1/enrol`: the one-time token and a certificate request for the agent's key. No client certificate.
    public struct EnrolRequest: Codable, Sendable {
        public var token: String
        public var csr: String
        public init(token: String, csr: String) {
            self.token = token
            self.csr = csr
        }
    }

    /// The answer to an enrolment request and to `GET /agent/v1/enrolments/{id}`.
    public struct EnrolmentState: Codable, Sendable {
        public var enrolment: String
        public var site: String
        /// `requested` (waiting for an admin), `approved` or `rejected`.
        public var status: String
        /// SHA-256 of the agent's public key, hex: an admin compares it with what the agent printed before approving.
        public var keyFingerprint: String
        /// The client certificate (PEM), once approved.
        public var certificate: String?
        /// The agent authority's certificate (PEM): the agent keeps it to check renewed certificates.
        public var authority: String?
        public init(enrolment: String, site: String, status: String, keyFingerprint: String, certificate: String? = nil, authority: String? = nil) {
            self.enrolment = enrolment
            self.site = site
            self.status = status
            self.keyFingerprint = keyFingerprint
            self.certificate = certificate
            self.authority = authority
        }
    }

    /// `POST /agent/v1/sites/{site}/hello`: the agent is alive; its clock and version.
    public struct Hello: Codable, Sendable {
        public var agentTime: Date
        public var agentVersion: String
        public init(agentTime: Date, agentVersion: String) {
            self.agentTime = agentTime
            self.agentVersion = agentVersion
        }
    }

    public struct HelloAnswer: Codable, Sendable {
        public var site: String
        public var serverTime: Date
        /// The certificate's serial, as the server knows it.
        public var serial: String
        public var notAfter: Date
        /// When the agent should ask for a new certificate (two thirds of its validity).
        public var renewAfter: Date
        public init(site: String, serverTime: Date, serial: String, notAfter: Date, renewAfter: Date) {
            self.site = site
            self.serverTime = serverTime
            self.serial = serial
            self.notAfter = notAfter
            self.renewAfter = renewAfter
        }
    }

    /// `POST /agent/v1/sites/{site}/renew`: a certificate request for the agent's (new or same) key.
    public struct RenewRequest: Codable, Sendable {
        public var csr: String
        public init(csr: String) { self.csr = csr }
    }

    public struct RenewAnswer: Codable, Sendable {
        public var certificate: String
        public var serial: String
        public var notAfter: Date
        public init(certificate: String, serial: String, notAfter: Date) {
            self.certificate = certificate
            self.serial = serial
            self.notAfter = notAfter
        }
    }

    /// `GET /agent/v1/sites/{site}/desired?known=VERSION&wait=SECONDS`: what the agent observes against. Answered at
    /// once when the version differs from `known`, else held up to `wait` seconds (at most 55) and answered 204.
    public struct Desired: Codable, Sendable {
        public struct Item: Codable, Sendable, Hashable {
            public var path: String
            public var hash: String
            public init(path: String, hash: String) {
                self.path = path
                self.hash = hash
            }
        }
        public var site: String
        public var commit: String?
        /// Of the resources' paths and hashes: the agent sends it back with its report.
        public var version: String
        /// The files target's root (relative roots resolve against the agent's --target-base).
        public var root: String
        public var resources: [Item]
        public init(site: String, commit: String?, version: String, root: String, resources: [Item]) {
            self.site = site
            self.commit = commit
            self.version = version
            self.root = root
            self.resources = resources
        }
    }

    /// The answer to a live-state report (`POST /agent/v1/sites/{site}/observations`, a ``LiveReport``); a short
    /// report the server cannot confirm gets 409 and the agent sends the whole report.
    public struct ReportAnswer: Codable, Sendable {
        public var stored: Bool
        public init(stored: Bool) { self.stored = stored }
    }

    /// Every refusal: `{"error": {"status": 403, "message": "…"}}`, as the rest of the API.
    public struct ErrorBody: Codable, Sendable {
        public struct Detail: Codable, Sendable {
            public var status: Int
            public var message: String
            public init(status: Int, message: String) {
                self.status = status
                self.message = message
            }
        }
        public var error: Detail
        public init(error: Detail) { self.error = error }
    }

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
