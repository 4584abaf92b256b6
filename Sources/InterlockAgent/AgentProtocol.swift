import Foundation
import InterlockEngine

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
        /// `open` (the token not used yet), `requested` (waiting for an admin), `approved` or `rejected`.
        public var status: String
        /// SHA-256 of the agent's public key, hex: an admin compares it with what the agent printed before approving.
        public var keyFingerprint: String
        /// The client certificate (PEM), once approved.
        public var certificate: String?
        /// Reserved for the agent authority's certificate (PEM); the server does not send it yet (the agent is given
        /// the authority's certificate with `--server-ca`).
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

    /// What the agent observes against, in the answer to `GET /agent/v1/sites/{site}/poll?known=VERSION&wait=SECONDS`
    /// when the version differs from `known` (see ``Poll``).
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

    /// `GET /agent/v1/sites/{site}/poll?known=VERSION&wait=SECONDS`: the long poll. Answered when the desired
    /// resources changed (`desired`), or when a change of the site is ready with its gates open (`work`); 204 after
    /// `wait` seconds (at most 55) otherwise.
    public struct Poll: Codable, Sendable {
        public var desired: Desired?
        public var work: Work?
        public var serverTime: Date
        public init(desired: Desired?, work: Work?, serverTime: Date) {
            self.desired = desired
            self.work = work
            self.serverTime = serverTime
        }
    }

    /// An approved change of the agent's site whose gates are open: everything the agent needs to apply it.
    public struct Work: Codable, Sendable {
        public struct Hook: Codable, Sendable, Hashable {
            public var component: String
            /// `reload` or `health`.
            public var hook: String
            public var command: [String]
            /// Seconds; nil for the default.
            public var timeout: Double?
            public init(component: String, hook: String, command: [String], timeout: Double?) {
                self.component = component
                self.hook = hook
                self.command = command
                self.timeout = timeout
            }
        }
        public var change: String
        public var planID: String
        /// The plan as the queue stores it (JSON, content base64); the agent checks its id.
        public var plan: String
        /// What to observe against before applying (the same as the poll's `desired`).
        public var desired: Desired
        /// The latest instant the apply may start (the window's end less its minimum remaining); nil when no window
        /// gates the change. The agent checks it with its own clock.
        public var startBefore: Date?
        public var serverTime: Date
        public var hooks: [Hook]
        /// How long a claim holds without being renewed.
        public var leaseSeconds: Double
        public init(change: String, planID: String, plan: String, desired: Desired, startBefore: Date?, serverTime: Date, hooks: [Hook], leaseSeconds: Double) {
            self.change = change
            self.planID = planID
            self.plan = plan
            self.desired = desired
            self.startBefore = startBefore
            self.serverTime = serverTime
            self.hooks = hooks
            self.leaseSeconds = leaseSeconds
        }
    }

    /// `POST …/changes/{id}/claim`: compare-and-set on the server (one claim wins); answered with the lease's token.
    public struct Claim: Codable, Sendable {
        public var planID: String
        public var agentTime: Date
        public init(planID: String, agentTime: Date) {
            self.planID = planID
            self.agentTime = agentTime
        }
    }

    public struct Lease: Codable, Sendable {
        public var token: Int64
        public var expiresAt: Date?
        public init(token: Int64, expiresAt: Date?) {
            self.token = token
            self.expiresAt = expiresAt
        }
    }

    /// `POST …/changes/{id}/refusal`: the agent did not start a change (its clock and the server's differ, the window
    /// is closed by its clock). The change stays ready; the refusal is audited.
    public struct Refusal: Codable, Sendable {
        public var planID: String
        /// `clock-skew` or `window-closed`.
        public var kind: String
        public var reason: String
        public var agentTime: Date
        public init(planID: String, kind: String, reason: String, agentTime: Date) {
            self.planID = planID
            self.kind = kind
            self.reason = reason
            self.agentTime = agentTime
        }
    }

    /// `POST …/changes/{id}/result`: what the apply did, as the agent observed it. Sending the same result twice is
    /// harmless; a different result for a change already recorded gets 409.
    public struct Result: Codable, Sendable, Hashable {
        public struct HookRun: Codable, Sendable, Hashable {
            public var component: String
            public var hook: String
            public var command: [String]
            public var succeeded: Bool
            public var output: String
            public init(component: String, hook: String, command: [String], succeeded: Bool, output: String) {
                self.component = component
                self.hook = hook
                self.command = command
                self.succeeded = succeeded
                self.output = output
            }
        }
        public var change: String
        public var planID: String
        public var token: Int64
        /// `applied`, `rolled-back`, `failed` (not all-old after the rollback), or `aborted` (the live state moved
        /// since the plan; nothing was written).
        public var outcome: String
        public var reason: String?
        /// The resources the driver wrote, in order.
        public var applied: [String]
        public var hooks: [HookRun]
        /// What the agent observed at the site after the outcome (for `aborted`: what it found instead of the state
        /// the plan was computed against). The server stores it as the site's live state with the outcome.
        public var live: LiveReport?
        /// For `failed`: the paths that are not as they were.
        public var notAsBefore: [String]
        /// Set when the agent found this outcome after a restart (from its journal), not as it happened.
        public var recovered: Bool
        public var finishedAt: Date
        public init(change: String, planID: String, token: Int64, outcome: String, reason: String?, applied: [String], hooks: [HookRun],
                    live: LiveReport?, notAsBefore: [String], recovered: Bool, finishedAt: Date) {
            self.change = change
            self.planID = planID
            self.token = token
            self.outcome = outcome
            self.reason = reason
            self.applied = applied
            self.hooks = hooks
            self.live = live
            self.notAsBefore = notAsBefore
            self.recovered = recovered
            self.finishedAt = finishedAt
        }
    }

    public struct ResultAnswer: Codable, Sendable {
        /// `recorded`, or `already-recorded` for a repeat.
        public var status: String
        public var change: String
        public var changeStatus: String
        public init(status: String, change: String, changeStatus: String) {
            self.status = status
            self.change = change
            self.changeStatus = changeStatus
        }
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
