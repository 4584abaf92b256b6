import AsyncHTTPClient
import Crypto
import Foundation
import InterlockEngine
import InterlockModel
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import X509

/// A plant's agent: inside the plant's network, it opens every connection to the server (HTTPS, mutual TLS once
/// enrolled) and keeps its identity in its state directory:
///
/// - `key.pem`: its private key (P-256, 0600), made on first start; never leaves the host.
/// - `enrolment`: the enrolment id its token was exchanged for, while the enrolment waits for an admin.
/// - `certificate.pem`: its client certificate, once approved (renewed after two thirds of its validity).
public final class PlantAgent: Sendable {
    public struct Options: Sendable {
        /// `https://host:port` of the server's agent listener.
        public var server: URL
        /// PEM file of the CA that signed the listener's certificate (nil: the system's trust store).
        public var serverCA: String?
        public var stateDirectory: String
        /// The one-time enrolment token (only needed until the enrolment is requested).
        public var token: String?
        /// `http://host:port` of an HTTP proxy (CONNECT) between the plant and the server.
        public var proxy: URL?
        /// Seconds between heartbeats.
        public var interval: TimeInterval
        /// Stop after this many successful heartbeats (tests and `--once`); nil runs until cancelled.
        public var heartbeats: Int?
        /// Where relative target roots resolve, and the directory every target root must lie in.
        public var targetBase: String
        /// How far this host's clock may be from the server's before the agent refuses to apply.
        public var clockTolerance: TimeInterval

        public init(server: URL, serverCA: String?, stateDirectory: String, token: String?, proxy: URL?, interval: TimeInterval = 15, heartbeats: Int? = nil,
                    targetBase: String = "/", clockTolerance: TimeInterval = 30) {
            self.targetBase = targetBase
            self.clockTolerance = clockTolerance
            self.server = server
            self.serverCA = serverCA
            self.stateDirectory = stateDirectory
            self.token = token
            self.proxy = proxy
            self.interval = interval
            self.heartbeats = heartbeats
        }
    }

    /// Why the agent stopped for good (it does not retry these).
    public struct Stop: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public let options: Options
    let logger: Logger
    public static let version = "0.1.0"

    public init(options: Options, logger: Logger) throws {
        self.options = options
        self.logger = logger
        guard options.server.scheme == "https", options.server.host != nil else {
            throw Stop(message: "--server must be an https:// URL of the server's agent listener, e.g. https://interlock.example.com:8443")
        }
    }

    var keyPath: String { options.stateDirectory + "/key.pem" }
    var certificatePath: String { options.stateDirectory + "/certificate.pem" }
    var enrolmentPath: String { options.stateDirectory + "/enrolment" }

    /// The agent's key, made (0600) on first use.
    func key() throws -> P256.Signing.PrivateKey {
        if let text = try? String(contentsOfFile: keyPath, encoding: .utf8) {
            do { return try P256.Signing.PrivateKey(pemRepresentation: text) } catch {
                throw Stop(message: "\(keyPath) is not a P-256 private key in PEM: \(error). Move it away to make a new key (and enrol again).")
            }
        }
        try FileManager.default.createDirectory(atPath: options.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = P256.Signing.PrivateKey()
        try AgentAuthority.writeSecret(key.pemRepresentation, to: keyPath)
        return key
    }

    public func keyFingerprint() throws -> String {
        AgentAuthority.keyFingerprint(Certificate.PublicKey(try key().publicKey))
    }

    func certificateRequest(_ key: P256.Signing.PrivateKey) throws -> String {
        let name = try DistinguishedName { CommonName("interlock agent \(ProcessInfo.processInfo.hostName)") }
        let request = try CertificateSigningRequest(version: .v1, subject: name, privateKey: Certificate.PrivateKey(key), attributes: .init(),
                                                    signatureAlgorithm: .ecdsaWithSHA256)
        return try request.serializeAsPEM().pemString
    }

    func currentCertificate() -> Certificate? {
        (try? String(contentsOfFile: certificatePath, encoding: .utf8)).flatMap { try? Certificate(pemEncoded: $0) }
    }

    func client(withCertificate: Bool) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let ca = options.serverCA {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            } catch {
                throw Stop(message: "--server-ca \(ca) is not a readable PEM certificate: \(error)")
            }
        }
        if withCertificate {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, timeout: .init(connect: .seconds(10), read: .seconds(90)))
        if let proxy = options.proxy, let host = proxy.host {
            configuration.proxy = .server(host: host, port: proxy.port ?? 3128)
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// An answer: status and body.
    struct Answer {
        var status: Int
        var body: Data

        var message: String {
            (try? AgentProtocol.decoder().decode(AgentProtocol.ErrorBody.self, from: body).error.message) ?? String(decoding: body.prefix(300), as: UTF8.self)
        }
    }

    func send(_ client: HTTPClient, _ method: HTTPMethod, _ path: String, body: (some Encodable)?) async throws -> Answer {
        var request = HTTPClientRequest(url: options.server.absoluteString.trimmingSuffix("/") + "/agent/v1/" + path)
        request.method = method
        request.headers.add(name: "User-Agent", value: "interlock-agent/\(Self.version)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try AgentProtocol.encoder().encode(body)))
        }
        let response = try await client.execute(request, timeout: .seconds(90))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), body: Data(bytes.readableBytesView))
    }

    /// What the agent last told the server about its site.
    struct Reported {
        var fingerprint: String
        var version: String
    }

    /// Runs until cancelled (or `heartbeats` are done): enrols if needed, then keeps in contact (renewing the
    /// certificate), learns what to observe by long poll, and reports its site's live state.
    public func run() async throws {
        let key = try key()
        logger.info("agent key fingerprint: \(AgentAuthority.keyFingerprint(Certificate.PublicKey(key.publicKey)))")
        if currentCertificate() == nil { try await enrol(key) }
        var backoff = Backoff()
        var done = 0
        var desired: AgentProtocol.Desired?
        var reported: Reported?
        while !Task.isCancelled {
            do {
                let site = try await heartbeat(key)
                backoff.reset()
                try await withClient(certificate: true) { client in
                    // A crash after the result reached the outbox and before the in-flight file was removed: the
                    // result stands (it is sent next); the site is not recovered a second time.
                    if let inflight = loadInflight(),
                       FileManager.default.fileExists(atPath: outboxDirectory + "/\(inflight.change).json")
                        || FileManager.default.fileExists(atPath: outboxDirectory + "/refused/\(inflight.change).json") {
                        try? FileManager.default.removeItem(atPath: inflightPath)
                    }
                    try await flushOutbox(client, site: site)
                    if let inflight = loadInflight() { try await recover(inflight, client: client, site: site) }
                    let wait = min(25, max(1, options.interval))
                    let answer = try await send(client, .GET, "sites/\(site)/poll?known=\(desired?.version ?? "")&wait=\(Int(wait))", body: Optional<AgentProtocol.Hello>.none)
                    var work: AgentProtocol.Work?
                    switch answer.status {
                    case 200:
                        let poll = try AgentProtocol.decoder().decode(AgentProtocol.Poll.self, from: answer.body)
                        if let new = poll.desired { desired = new }
                        work = poll.work
                    case 204: break
                    case 401, 403: throw Stop(message: "the server refused this agent's certificate: \(answer.message)")
                    case 409, 404, 503:
                        logger.warning("\(answer.message)")
                        try await Task.sleep(nanoseconds: UInt64(max(5, options.interval) * 1e9))
                    default: throw AgentError("the server answered \(answer.status): \(answer.message)")
                    }
                    if let work { try await handle(work, client: client, site: site) }
                    if let current = desired {
                        reported = try await report(current, client: client, site: site, last: work == nil ? reported : nil)
                    }
                }
                done += 1
                if let heartbeats = options.heartbeats, done >= heartbeats { return }
            } catch let stop as Stop {
                throw stop
            } catch is CancellationError {
                return
            } catch {
                let delay = backoff.next()
                logger.warning("cannot reach the server (\(error)); trying again in \(Int(delay)) s")
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
    }

    /// Runs `body` with a client, shut down afterwards.
    func withClient<T>(certificate: Bool, _ body: (HTTPClient) async throws -> T) async throws -> T {
        let client = try client(withCertificate: certificate)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func enrol(_ key: P256.Signing.PrivateKey) async throws {
        try await withClient(certificate: false) { client in try await enrol(key, client: client) }
    }

    func enrol(_ key: P256.Signing.PrivateKey, client: HTTPClient) async throws {
        var enrolment = (try? String(contentsOfFile: enrolmentPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        var backoff = Backoff()
        while enrolment == nil {
            guard let token = options.token else {
                throw Stop(message: "this agent is not enrolled: start it once with --token (from 'interlock agent enrol --site …' on the server)")
            }
            do {
                let answer = try await send(client, .POST, "enrol", body: AgentProtocol.EnrolRequest(token: token, csr: try certificateRequest(key)))
                switch answer.status {
                case 202:
                    let state = try AgentProtocol.decoder().decode(AgentProtocol.EnrolmentState.self, from: answer.body)
                    try Data((state.enrolment + "\n").utf8).write(to: URL(fileURLWithPath: enrolmentPath), options: .atomic)
                    logger.notice("enrolment \(state.enrolment) for \(state.site) requested; waiting for an admin to approve it (key \(state.keyFingerprint))")
                    enrolment = state.enrolment
                case 400, 403:
                    throw Stop(message: "the server refused the enrolment: \(answer.message)")
                default:
                    throw AgentError("the server answered \(answer.status): \(answer.message)")
                }
            } catch let stop as Stop {
                throw stop
            } catch {
                let delay = backoff.next()
                logger.warning("cannot enrol yet (\(error)); trying again in \(Int(delay)) s")
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
        backoff = Backoff(initial: 1, maximum: 30)
        while true {
            try Task.checkCancellation()
            do {
                let answer = try await send(client, .GET, "enrolments/\(enrolment!)", body: Optional<AgentProtocol.Hello>.none)
                guard answer.status == 200 else {
                    if answer.status == 404 { throw Stop(message: "the server does not know the enrolment \(enrolment!): remove \(enrolmentPath) and enrol again with a new token") }
                    throw AgentError("the server answered \(answer.status): \(answer.message)")
                }
                let state = try AgentProtocol.decoder().decode(AgentProtocol.EnrolmentState.self, from: answer.body)
                switch state.status {
                case "approved":
                    guard let pem = state.certificate, let certificate = try? Certificate(pemEncoded: pem),
                          certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
                        throw Stop(message: "the certificate the server issued for enrolment \(enrolment!) is not for this agent's key")
                    }
                    try AgentAuthority.writeSecret(pem, to: certificatePath)
                    try? FileManager.default.removeItem(atPath: enrolmentPath)
                    logger.notice("enrolment \(enrolment!) approved: this agent speaks for \(state.site) (certificate \(AgentAuthority.serialText(certificate.serialNumber)))")
                    return
                case "rejected":
                    try? FileManager.default.removeItem(atPath: enrolmentPath)
                    throw Stop(message: "the enrolment \(enrolment!) was rejected by an admin")
                default:
                    break
                }
            } catch let stop as Stop {
                throw stop
            } catch {
                logger.warning("cannot read the enrolment (\(error))")
            }
            try await Task.sleep(nanoseconds: UInt64(backoff.next() * 1e9))
        }
    }

    /// The directory of the site's target on this host: a relative root under `targetBase`; every root inside it.
    func targetRoot(_ root: String) throws -> String {
        guard !root.split(separator: "/").contains("..") else { throw Stop(message: "the target root '\(root)' contains '..': refused") }
        let base = URL(fileURLWithPath: options.targetBase).standardizedFileURL.path
        let resolved = root.hasPrefix("/") ? URL(fileURLWithPath: root).standardizedFileURL.path : URL(fileURLWithPath: base).appendingPathComponent(root).standardizedFileURL.path
        guard base == "/" || resolved == base || resolved.hasPrefix(base + "/") else {
            throw Stop(message: "the target root \(resolved) is outside this agent's --target-base \(base): refused (change the site's root, or the agent's --target-base)")
        }
        return resolved
    }

    /// Observes the site and reports it: only the fingerprint when nothing changed since the last report the server
    /// accepted, everything (hashes, and content where it differs from the desired content) otherwise.
    func report(_ desired: AgentProtocol.Desired, client: HTTPClient, site: String, last: Reported?) async throws -> Reported? {
        let driver = FilesDriver(site: site, root: try targetRoot(desired.root))
        let live: LiveState
        do {
            live = try driver.observe(desiredPaths: desired.resources.map(\.path))
        } catch {
            logger.error("cannot observe \(site): \(error)")
            return last
        }
        let fingerprint = live.fingerprint
        if let last, last.fingerprint == fingerprint, last.version == desired.version {
            let short = LiveReport(desiredVersion: desired.version, fingerprint: fingerprint, resources: nil, drift: nil)
            let answer = try await send(client, .POST, "sites/\(site)/observations", body: short)
            if answer.status == 200 { return last }
            guard answer.status == 409 else { throw AgentError("the server answered \(answer.status): \(answer.message)") }
        }
        let hashes = Dictionary(desired.resources.map { ($0.path, $0.hash) }) { first, _ in first }
        let full = LiveReport(live: live, desiredVersion: desired.version, desiredHashes: hashes)
        let answer = try await send(client, .POST, "sites/\(site)/observations", body: full)
        guard answer.status == 200 else {
            if answer.status == 401 || answer.status == 403 { throw Stop(message: "the server refused this agent's certificate: \(answer.message)") }
            throw AgentError("the server refused the report of \(site) (\(answer.status)): \(answer.message)")
        }
        logger.info("reported \(site): \(live.resources.count) resource(s), \(live.drift.count) drifted, fingerprint \(fingerprint.dropFirst(7).prefix(12))")
        return Reported(fingerprint: fingerprint, version: desired.version)
    }

    var inflightPath: String { options.stateDirectory + "/inflight.json" }
    var outboxDirectory: String { options.stateDirectory + "/outbox" }

    /// An apply in progress, kept (fsync'd) from the claim until its result is in the outbox.
    struct Inflight: Codable {
        var change: String
        var token: Int64
        var work: AgentProtocol.Work
    }

    /// A result waiting for the server's acknowledgement, with the target root whose journal it closes.
    struct OutboxEntry: Codable {
        var result: AgentProtocol.Result
        var root: String?
    }

    func loadInflight() -> Inflight? {
        guard let data = FileManager.default.contents(atPath: inflightPath) else { return nil }
        return try? AgentProtocol.decoder().decode(Inflight.self, from: data)
    }

    /// This host's clock as the agent reads it to decide whether to start. Test hook:
    /// `INTERLOCK_TEST_AGENT_CLOCK_OFFSET_SECONDS` moves it in debug builds (release builds ignore it), so that a test
    /// can show the refusal of a skewed agent
    /// (a skewed clock can only make the agent refuse: the server checks the gates again when it claims).
    static func clock() -> Date {
        #if DEBUG
        let offset = ProcessInfo.processInfo.environment["INTERLOCK_TEST_AGENT_CLOCK_OFFSET_SECONDS"].flatMap(Double.init) ?? 0
        return Date().addingTimeInterval(offset.isFinite ? offset : 0)
        #else
        return Date()
        #endif
    }

    /// Changes this agent refused to start, and when (not refused again for ten minutes).
    private static let refusedRecently = RefusalMemory()

    func applier(_ work: AgentProtocol.Work, token: Int64, site: String) throws -> AgentApplier {
        let plan = try Plan(stored: try Value.parseJSON(work.plan))
        guard plan.id == work.planID, plan.site == site else { throw AgentError("the plan of \(work.change) is not the plan the server named") }
        return AgentApplier(site: site, root: try targetRoot(work.desired.root), plan: plan, token: token, hooks: work.hooks,
                            desiredPaths: work.desired.resources.map(\.path), desiredVersion: work.desired.version,
                            desiredHashes: Dictionary(work.desired.resources.map { ($0.path, $0.hash) }) { first, _ in first })
    }

    /// A ready change of the site: checked against this host's clock and the window, claimed, applied, reported.
    func handle(_ work: AgentProtocol.Work, client: HTTPClient, site: String) async throws {
        guard !Self.refusedRecently.contains(work.change + work.planID) else { return }
        let now = Self.clock()
        let skew = now.timeIntervalSince(work.serverTime)
        var refusal: (kind: String, reason: String)?
        if abs(skew) > options.clockTolerance {
            refusal = ("clock-skew", "this agent's clock and the server's differ by \(Int(skew.rounded())) s (more than \(Int(options.clockTolerance)) s): fix the time synchronisation of the plant host or the server")
        } else if let startBefore = work.startBefore, now > startBefore {
            refusal = ("window-closed", "by this agent's clock the window allows no start after \(startBefore)")
        }
        if let refusal {
            logger.error("not starting \(work.change): \(refusal.reason)")
            Self.refusedRecently.insert(work.change + work.planID)
            _ = try await send(client, .POST, "sites/\(site)/changes/\(work.change)/refusal",
                               body: AgentProtocol.Refusal(planID: work.planID, kind: refusal.kind, reason: refusal.reason, agentTime: now))
            return
        }
        let claimed = try await send(client, .POST, "sites/\(site)/changes/\(work.change)/claim", body: AgentProtocol.Claim(planID: work.planID, agentTime: now))
        guard claimed.status == 200 else {
            // Refused (claimed already, gates closed, a newer commit): the server re-plans; poll again after a pause
            // rather than at once.
            logger.warning("\(work.change) not claimed: \(claimed.message)")
            try await Task.sleep(nanoseconds: UInt64(max(1, min(options.interval, 15)) * 1e9))
            return
        }
        let lease = try AgentProtocol.decoder().decode(AgentProtocol.Lease.self, from: claimed.body)
        let applier = try applier(work, token: lease.token, site: site)
        try AgentAuthority.writeSecret(String(decoding: try AgentProtocol.encoder().encode(Inflight(change: work.change, token: lease.token, work: work)), as: UTF8.self),
                                       to: inflightPath)
        logger.notice("claimed \(work.change) (plan \(work.planID.dropFirst(7).prefix(12)), \(applier.plan.summary)); applying")
        var result = applier.check(change: work.change)
        if result == nil {
            // The last moment to find out cheaply that the claim is gone: nothing written yet.
            let renewed = try? await send(client, .POST, "sites/\(site)/changes/\(work.change)/lease", body: lease)
            if renewed?.status != 200 {
                result = applier.result(work.change, "aborted", reason: "the claim's lease could not be renewed before applying; nothing was written")
            }
        }
        if result == nil {
            let renewal = Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: UInt64(max(1, work.leaseSeconds / 3) * 1e9))
                    if Task.isCancelled { break }
                    _ = try? await send(client, .POST, "sites/\(site)/changes/\(work.change)/lease", body: lease)
                }
            }
            result = await Task.detached { applier.observed(applier.write(change: work.change)) }.value
            renewal.cancel()
        }
        try await deliver(result!, client: client, site: site)
    }

    /// Puts a result in the outbox (fsync'd), forgets the in-flight apply, and sends the outbox.
    func deliver(_ result: AgentProtocol.Result, client: HTTPClient, site: String) async throws {
        try FileManager.default.createDirectory(atPath: outboxDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let entry = OutboxEntry(result: result, root: try? targetRoot((loadInflight()?.work.desired.root) ?? ""))
        try AgentAuthority.writeSecret(String(decoding: try AgentProtocol.encoder().encode(entry), as: UTF8.self), to: outboxDirectory + "/\(result.change).json")
        try? FileManager.default.removeItem(atPath: inflightPath)
        logger.notice("\(result.change): \(result.outcome)\(result.reason.map { " — \($0)" } ?? "")")
        try await flushOutbox(client, site: site)
        CrashPoint.reached("agent-result-delivered")
    }

    /// Sends every result still in the outbox; each is removed once the server has it (and the driver's journal of it
    /// with it). A result the server refuses for good is moved to `outbox/refused/` and logged.
    func flushOutbox(_ client: HTTPClient, site: String) async throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: outboxDirectory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        for name in names {
            let path = outboxDirectory + "/" + name
            guard let data = FileManager.default.contents(atPath: path), let entry = try? AgentProtocol.decoder().decode(OutboxEntry.self, from: data) else { continue }
            let result = entry.result
            let answer = try await send(client, .POST, "sites/\(site)/changes/\(result.change)/result", body: result)
            switch answer.status {
            case 200:
                // Recorded: the driver's journal of this apply is no longer needed for a rollback.
                if let root = entry.root { try? FilesDriver(site: site, root: root).finishApply(planID: result.planID) }
                try FileManager.default.removeItem(atPath: path)
                logger.info("the server recorded the result of \(result.change)")
            case 400, 404, 409:
                logger.error("the server refused the result of \(result.change): \(answer.message); kept in outbox/refused/")
                try? FileManager.default.createDirectory(atPath: outboxDirectory + "/refused", withIntermediateDirectories: true)
                try? FileManager.default.moveItem(atPath: path, toPath: outboxDirectory + "/refused/" + name)
            case 401, 403:
                throw Stop(message: "the server refused this agent's certificate: \(answer.message)")
            default:
                throw AgentError("the server answered \(answer.status) to the result of \(result.change): \(answer.message)")
            }
        }
    }

    /// After a restart with an apply in flight: re-observe, finish it (never applied again blindly), and report.
    func recover(_ inflight: Inflight, client: HTTPClient, site: String) async throws {
        let applier = try applier(inflight.work, token: inflight.token, site: site)
        logger.warning("\(inflight.change) was being applied when this agent stopped: observing the site to record what is really there")
        let result = await Task.detached { applier.observed(applier.recover(change: inflight.change)) }.value
        try await deliver(result, client: client, site: site)
    }

    /// Says hello (the server records the contact and says when to renew); returns the site this agent speaks for.
    @discardableResult
    func heartbeat(_ key: P256.Signing.PrivateKey) async throws -> String {
        guard let certificate = currentCertificate(), let site = AgentAuthority.site(of: certificate) else {
            throw Stop(message: "\(certificatePath) is not an agent certificate of Interlock: remove it and enrol again")
        }
        try await withClient(certificate: true) { client in
            let answer = try await send(client, .POST, "sites/\(site)/hello", body: AgentProtocol.Hello(agentTime: Self.clock(), agentVersion: Self.version))
            switch answer.status {
            case 200:
                let hello = try AgentProtocol.decoder().decode(AgentProtocol.HelloAnswer.self, from: answer.body)
                logger.debug("in contact with the server as the agent of \(site)")
                if Date() >= hello.renewAfter { try await renew(client, site: site, key: key) }
            case 401, 403:
                throw Stop(message: "the server refused this agent's certificate: \(answer.message)")
            default:
                throw AgentError("the server answered \(answer.status): \(answer.message)")
            }
        }
        return site
    }

    func renew(_ client: HTTPClient, site: String, key: P256.Signing.PrivateKey) async throws {
        let answer = try await send(client, .POST, "sites/\(site)/renew", body: AgentProtocol.RenewRequest(csr: try certificateRequest(key)))
        guard answer.status == 200 else { throw AgentError("renewing the certificate failed (\(answer.status)): \(answer.message)") }
        let renewed = try AgentProtocol.decoder().decode(AgentProtocol.RenewAnswer.self, from: answer.body)
        guard let certificate = try? Certificate(pemEncoded: renewed.certificate), certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw AgentError("the renewed certificate is not for this agent's key")
        }
        try AgentAuthority.writeSecret(renewed.certificate, to: certificatePath)
        logger.notice("certificate renewed: \(renewed.serial), valid until \(renewed.notAfter)")
    }
}

/// Jittered exponential back-off: from `initial` seconds doubling to `maximum`, each delay between half and all of it.
struct Backoff {
    var initial: TimeInterval = 1
    var maximum: TimeInterval = 300
    private var current: TimeInterval = 0

    init(initial: TimeInterval = 1, maximum: TimeInterval = 300) {
        self.initial = initial
        self.maximum = maximum
    }

    mutating func next() -> TimeInterval {
        current = current == 0 ? initial : min(maximum, current * 2)
        return current / 2 + Double.random(in: 0...(current / 2))
    }

    mutating func reset() { current = 0 }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// Keys remembered for ten minutes.
final class RefusalMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: Date] = [:]

    func contains(_ key: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        entries = entries.filter { Date().timeIntervalSince($0.value) < 600 }
        return entries[key] != nil
    }

    func insert(_ key: String) {
        lock.lock()
        entries[key] = Date()
        lock.unlock()
    }
}
