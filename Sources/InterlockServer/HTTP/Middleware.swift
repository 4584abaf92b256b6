import Foundation
import HTTPTypes
import Hummingbird
import InterlockEngine
import InterlockModel

/// Security headers on every response: a Content-Security-Policy without inline scripts or styles, no
/// framing, no sniffing, no referrer, and `Cache-Control: no-store` on everything but the stylesheet.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let secure: Bool

    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let permissionsPolicy = HTTPField.Name("Permissions-Policy")!

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[Self.xFrameOptions] = "DENY"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[Self.referrerPolicy] = "no-referrer"
        response.headers[Self.permissionsPolicy] = "camera=(), microphone=(), geolocation=()"
        response.headers[.cacheControl] = request.uri.path.hasPrefix("/static/") ? "public, max-age=3600" : "no-store"
        if secure { response.headers[.strictTransportSecurity] = "max-age=31536000" }
        return response
    }
}

/// Finds out who is asking: an API token (`Authorization: Bearer …`) or a console session cookie.
/// It never refuses a request itself; routes ask for the principal they need.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let server: WebServer

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        var context = context
        // The git host proves a push webhook by signing its body; an Authorization header a host may add is not an
        // API token of a user, and must not count against anyone's sign-in attempts.
        if request.uri.path == "/api/v1/hooks/git" { return try await next(request, context) }
        if let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let user = server.tokenUser(token) else {
                try await server.rejectToken(address: context.remoteAddress, path: request.uri.path)
                throw ServerError(.unauthorized, "the API token is not valid")
            }
            context.principal = Principal(user: user, authentication: "api-token", session: nil)
        } else {
            context.principal = try server.sessionPrincipal(request)
        }
        return try await next(request, context)
    }
}

extension WebServer {
    /// The principal of the request's session cookie, if it names a live session of a configured user. Throws 503 when
    /// the state database (where the sessions are) cannot be read: the request is neither signed in nor refused.
    func sessionPrincipal(_ request: Request) throws -> Principal? {
        guard let id = Responses.cookies(request)[SessionStore.cookieName] else { return nil }
        let found: Session?
        do {
            found = try sessions.session(id: id)
        } catch {
            throw ServerError(.serviceUnavailable, "the console's sessions cannot be read from the state database (\(error)); try again shortly")
        }
        guard let session = found, let user = instance.configuration.user(session.userID),
              session.credential == SessionStore.credential(of: user.passwordHash) else { return nil }
        return Principal(user: user, authentication: "session", session: session)
    }
}

/// Turns errors into answers: JSON `{"error": {...}}` for the API, a page (or the sign-in form) for the console.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let server: WebServer

    static func isAPI(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path == "/metrics" || path == "/healthz" || path == "/readyz"
    }

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let failure: ServerError
            switch error {
            case let known as ServerError: failure = known
            case let http as HTTPError: failure = ServerError(http.status, http.body ?? Self.defaultMessage(http.status))
            default:
                context.logger.error("request failed: \(error)")
                failure = ServerError(.internalServerError, "something went wrong on the server; the details are in its log")
            }
            let path = request.uri.path
            if Self.isAPI(path) {
                var response = Responses.json(.object(["error": .object(["status": .int(failure.status.code), "message": .string(failure.message)])]),
                                              status: failure.status)
                if failure.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"interlock\"" }
                return response
            }
            if failure.status == .unauthorized {
                let next = request.method == .get ? path + (request.uri.query.map { "?" + $0 } ?? "") : "/sites"
                return Responses.redirect("/login?next=" + FormFields.encode(next))
            }
            return server.views.errorPage(failure, principal: (try? server.sessionPrincipal(request)) ?? nil)
        }
    }

    static func defaultMessage(_ status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "There is no such page."
        case .methodNotAllowed: "This address does not accept that method."
        case .contentTooLarge: "The request is too large."
        default: status.reasonPhrase
        }
    }
}
