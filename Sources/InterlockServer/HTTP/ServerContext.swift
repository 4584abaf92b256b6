import Hummingbird
import InterlockModel
import NIOCore

/// Who is making a request, once authenticated: a configured user, and how they proved it.
public struct Principal: Sendable {
    public var user: InstanceConfiguration.User
    /// `session` (signed in with a password in the console) or `api-token`.
    public var authentication: String
    public var session: Session?

    func has(_ roles: InstanceConfiguration.User.Role...) -> Bool { !user.roles.isDisjoint(with: roles) }

    /// Auditors, operators and admins read the audit log.
    var mayReadAudit: Bool { has(.auditor, .operator, .admin) }
    /// Operators and admins run the reconciler on demand.
    var mayOperate: Bool { has(.operator, .admin) }
    /// How the audit log names the authentication of what this principal does.
    var auditAuthentication: String { authentication == "api-token" ? "api-token" : "local-password" }
}

/// The request context: the client's address and, after the authentication middleware, the principal.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var remoteAddress: String
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "local"
        principal = nil
    }

    /// The principal, or a 401 (API) / redirect to sign in (console).
    func requirePrincipal() throws(ServerError) -> Principal {
        guard let principal else { throw ServerError(.unauthorized, "sign in first") }
        return principal
    }
}

/// An error with the HTTP status it answers with; rendered as JSON under `/api/` and as a page elsewhere.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.code) \(message)" }
}
