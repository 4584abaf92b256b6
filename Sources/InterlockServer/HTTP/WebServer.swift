import Foundation
import Hummingbird
import InterlockEngine
import InterlockModel
import InterlockStore
import Logging
import NIOCore

/// The HTTP side of `interlock serve`: the JSON API, the web console, `/metrics`, `/healthz` and `/readyz`,
/// over one instance and its reconcile loop. Build the router with ``makeRouter()``; tests drive it in-process.
public final class WebServer: Sendable {
    public let instance: InterlockInstance
    public let loop: ReconcileLoop
    public let sessions: SessionStore
    public let throttle: LoginThrottle
    /// Set the `Secure` flag on cookies and send HSTS: the server (or its reverse proxy) speaks HTTPS.
    public let secureCookies: Bool
    let views: ConsoleViews
    /// API token hash → user id.
    let tokenIndex: [String: String]
    /// Counts repeated unauthenticated failures instead of recording each one.
    let failures: FailureAggregator
    /// Counts redeliveries of the same signed push instead of recording each one.
    let webhookRepeats: FailureAggregator
    /// Checked instead of a password hash for unknown users, with as many iterations as the slowest configured hash:
    /// a sign-in takes as long whether the user exists or not.
    let decoy: PasswordHash
    /// The git push webhook's secret (`webhooks.git`), read once at start; nil: not configured, or the secret file
    /// could not be read (then `webhookProblem` says why).
    let webhookSecret: String?
    let webhookProblem: String?
    /// Rollout wave states of changes, valid for one reconcile pass.
    let waveCache = Locked<(pass: Int, states: [String: WaveState?])>((0, [:]))

    public var observations: Observations { loop.observations }
    public var metrics: ServerMetrics { loop.metrics }

    public init(instance: InterlockInstance, loop: ReconcileLoop, secureCookies: Bool = false, version: String = "0.1.0",
                sessions: SessionStore? = nil, throttle: LoginThrottle = LoginThrottle(), failureWindow: TimeInterval = 600) {
        self.failures = FailureAggregator(window: failureWindow)
        self.webhookRepeats = FailureAggregator(window: failureWindow)
        let iterations = instance.configuration.users.compactMap { $0.passwordHash.flatMap { try? PasswordHash(parsing: $0) }?.iterations }.max()
        self.decoy = iterations.map { PasswordHash(password: "decoy", salt: Array("interlock-decoy!".utf8), iterations: $0) } ?? PasswordHash.decoy
        self.instance = instance
        self.loop = loop
        self.secureCookies = secureCookies
        // In the state database by default: every replica sees every session.
        self.sessions = sessions ?? SessionStore(backing: instance.store)
        self.throttle = throttle
        self.views = ConsoleViews(version: version, rehearsal: instance.rehearsal)
        var index: [String: String] = [:]
        for user in instance.configuration.users { for hash in user.apiTokens { index[hash] = user.id } }
        self.tokenIndex = index
        let hook = instance.configuration.gitWebhook
        if let file = hook?.secretFile {
            let text = (try? String(contentsOfFile: file, encoding: .utf8))?.split(whereSeparator: \.isNewline).first
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            let mode = ((try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? NSNumber)?.intValue ?? 0
            if let text, text.count >= 16, mode & 0o077 == 0 {
                webhookSecret = text
                webhookProblem = nil
            } else {
                webhookSecret = nil
                webhookProblem = text == nil ? "the webhook secret file \(file) cannot be read"
                    : text!.count < 16 ? "the webhook secret in \(file) is shorter than 16 characters"
                    : "the webhook secret file \(file) is readable by others (mode \(String(mode, radix: 8))): chmod 600 it"
            }
        } else {
            webhookSecret = hook?.secret
            webhookProblem = nil
        }
        if let problem = webhookProblem {
            FileHandle.standardError.write(Data("error: push webhooks are off: \(problem)\n".utf8))
        }
    }

    /// The branch push webhooks must name: `webhooks.git.branch`, else the revision `serve` follows when it is a
    /// branch, else the configuration's `branch`.
    var webhookBranch: String {
        if let branch = instance.configuration.gitWebhook?.branch { return GitWebhooks.branchName(branch) }
        let revision = instance.revision
        let isCommit = (revision.count == 40 || revision.count == 64) && revision.allSatisfy(\.isHexDigit)
        if revision != "HEAD", !revision.isEmpty, revision.allSatisfy({ !$0.isWhitespace }), !isCommit {
            return GitWebhooks.branchName(revision)
        }
        return GitWebhooks.branchName(instance.configuration.branch)
    }

    public func makeRouter() -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.add(middleware: SecurityHeadersMiddleware(secure: secureCookies))
        router.add(middleware: ErrorMiddleware(server: self))
        router.add(middleware: AuthenticationMiddleware(server: self))
        addOperationalRoutes(router)
        addAPIRoutes(router)
        addConsoleRoutes(router)
        return router
    }

    /// The application for `interlock serve`: this router on `host:port`, the reconcile loop as a service beside it.
    public func makeApplication(host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        Application(router: makeRouter(), configuration: .init(address: .hostname(host, port: port), serverName: nil), logger: logger)
    }

    // MARK: - Shared pieces of the routes

    func tokenUser(_ token: String) -> InstanceConfiguration.User? {
        tokenIndex[APIToken.hash(token)].flatMap { instance.configuration.user($0) }
    }

    /// A wrong API token counts like a failed sign-in of its address, and is audited: the first of a window as it
    /// happens, the repeats counted (see ``FailureAggregator``).
    func rejectToken(address: String, path: String) async throws {
        throttle.recordFailure(account: "api-token@" + address, address: address)
        try await auditFailure(action: "token.refused", subject: "api-token@" + address, address: address, AuditEvent(
            actor: Person(id: "unknown", name: "unknown API client"), role: "unauthenticated", authentication: "api-token", category: .access,
            action: "token.refused", success: false, error: "an API token that matches no user",
            details: ["remoteAddress": address, "path": String(path.prefix(200))]))
    }

    /// Records an unauthenticated failure if it is the first of its caller in the current window (else counts it),
    /// and the counts of windows that have passed.
    func auditFailure(action: String, subject: String, address: String, _ event: AuditEvent) async throws {
        let (decision, due) = failures.note(action: action, subject: subject, address: address, now: Date())
        var events = due.map { counted in
            AuditEvent(
                actor: Person(id: "unknown", name: "unauthenticated callers"), role: "unauthenticated", authentication: "none", category: .access,
                action: "access.failures.repeated", success: false,
                error: "\(counted.count) more \(counted.key.action) from \(counted.key.subject) after the first was recorded",
                details: ["failedAction": counted.key.action, "subject": counted.key.subject, "count": String(counted.count),
                          "remoteAddress": counted.address, "from": AuditTimestamp.format(counted.started), "to": AuditTimestamp.format(counted.last)])
        }
        if decision == .record { events.append(event) }
        guard !events.isEmpty else { return }
        let instance = self.instance
        try await offload { [events] in
            try instance.store.record(events)
            instance.checkpoint()
        }
    }

    func audit(_ event: AuditEvent) async throws {
        let instance = self.instance
        try await offload {
            try instance.store.record([event])
            instance.checkpoint()
        }
    }

    /// Records a request refused for lack of a role (403) and returns the error to throw.
    func denied(_ principal: Principal, _ message: String, path: String, address: String) async -> ServerError {
        try? await audit(AuditEvent(
            actor: Person(id: principal.user.id, name: principal.user.name), role: principal.user.roles.map(\.rawValue).sorted().joined(separator: ","),
            authentication: principal.auditAuthentication, category: .access, action: "access.denied", success: false, error: message,
            details: ["remoteAddress": address, "path": path]))
        return ServerError(.forbidden, message)
    }

    /// Checks the CSRF token of a state-changing request made with a session cookie (API tokens need none:
    /// a browser never sends them by itself). Failures are audited.
    func checkCSRF(_ principal: Principal, token: String?, path: String, address: String) async throws {
        guard let session = principal.session else { return }
        guard let token, PasswordHash.constantTimeEqual(Array(token.utf8), Array(session.csrfToken.utf8)) else {
            throw await denied(principal, "the form's security token is missing or out of date; reload the page and try again", path: path, address: address)
        }
    }

    /// The desired state the reconciler last read (read now if it has not been yet).
    func currentState() async throws -> InterlockInstance.LoadedState {
        if let loaded = observations.loaded { return loaded }
        let instance = self.instance
        let observations = self.observations
        do {
            return try await offload {
                let loaded = try instance.loadDesiredState()
                observations.setLoaded(loaded)
                return loaded
            }
        } catch {
            throw ServerError(.serviceUnavailable, "the desired state cannot be used yet: \(error)")
        }
    }

    /// Approves or rejects as `principal`, after checking the re-entered password (an electronic signature).
    /// Wrong passwords count towards the account's lockout; every refusal is audited.
    /// The password again, for a decision made in the console (a rollout override): nil when it matches, else why
    /// not. API tokens never decide; failures count towards the account's lock like a signature's.
    func confirmPassword(_ principal: Principal, _ password: String?, address: String) async throws -> String? {
        let user = principal.user
        guard principal.authentication != "api-token" else { return "API tokens never decide: sign in to the console with your password" }
        guard let password, !password.isEmpty else { return "re-enter your password to decide" }
        if let until = throttle.lockedUntil(account: user.id, address: address) {
            return "too many failed password attempts; decisions are locked until \(ConsoleViews.utc(until))"
        }
        guard let stored = user.passwordHash, let hash = try? PasswordHash(parsing: stored) else {
            return "\(user.name) (\(user.id)) has no password in the instance configuration and cannot decide"
        }
        guard try await offload({ hash.matches(password) }) else {
            _ = throttle.recordFailure(account: user.id, address: address)
            return "the password does not match: nothing was recorded"
        }
        return nil
    }

    func sign(changeID: String, approving: Bool, reason: String?, password: String?, plan: String?, principal: Principal,
              address: String) async throws -> ChangeSigning.Signed {
        let verb = approving ? "approve" : "reject"
        guard let reason, !reason.isEmpty else { throw ServerError(.badRequest, "a reason is required: it is recorded with your signature") }
        guard let password, !password.isEmpty else { throw ServerError(.badRequest, "re-enter your password to sign") }
        let user = principal.user
        let loaded = try await currentState()
        func refuse(_ status: HTTPResponse.Status, _ message: String) async -> ServerError {
            let change = try? await offload { [instance = self.instance] in try instance.store.change(id: changeID) }
            try? await audit(AuditEvent(
                actor: Person(id: user.id, name: user.name), role: "approver",
                authentication: principal.authentication == "api-token" ? "api-token" : "local-password", category: .access,
                action: "\(verb).refused", site: change?.site, changeID: change?.id, planID: change?.plan.id, commit: change?.plan.commit,
                reason: reason, success: false, error: message, details: ["remoteAddress": address]))
            return ServerError(status, message)
        }
        if principal.authentication == "api-token" {
            throw await refuse(.forbidden, "API tokens never sign: sign in to the console (or use 'interlock approve' with your password) to sign")
        }
        if let until = throttle.lockedUntil(account: user.id, address: address) {
            throw await refuse(.tooManyRequests, "too many failed password attempts; signing is locked until \(ConsoleViews.utc(until))")
        }
        guard let stored = user.passwordHash, let hash = try? PasswordHash(parsing: stored) else {
            throw await refuse(.forbidden, "\(user.name) (\(user.id)) has no password in the instance configuration and cannot sign")
        }
        let matches = try await offload { hash.matches(password) }
        guard matches else {
            if throttle.recordFailure(account: user.id, address: address) {
                try? await audit(AuditEvent(
                    actor: Person(id: user.id, name: user.name), role: "unauthenticated", authentication: "local-password", category: .access,
                    action: "login.locked", success: false, error: "account locked for \(Int(throttle.lockout / 60)) minutes after repeated failures",
                    details: ["remoteAddress": address]))
            }
            throw await refuse(.forbidden, "the password does not match: the signature was not made")
        }
        let instance = self.instance
        let signer = ChangeSigning.Signer(userID: user.id, authentication: "local-password", remoteAddress: address)
        let state = loaded.state
        let result: Result<ChangeSigning.Signed, ChangeSigning.Refusal> = try await offload {
            do throws(ChangeSigning.Refusal) {
                return .success(try ChangeSigning.sign(changeID: changeID, approving: approving, reason: reason, reviewedPlan: plan,
                                                       signer: signer, instance: instance, state: state))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let signed):
            loop.trigger()
            return signed
        case .failure(let refusal):
            let status: HTTPResponse.Status = switch refusal.kind {
            case .forbidden: .forbidden
            case .conflict: .conflict
            case .notFound: .notFound
            case .badRequest: .badRequest
            }
            throw ServerError(status, "\(verb) refused: \(refusal.message)")
        }
    }
}
