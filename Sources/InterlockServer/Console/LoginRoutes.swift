import Foundation
import HTTPTypes
import Hummingbird
import InterlockEngine
import InterlockModel

/// Signing in and out of the console. The sign-in form carries a CSRF token bound to a cookie of its own;
/// every failure is audited (`login.failed`), and repeated failures lock the account (`login.locked`).
extension WebServer {
    static let loginCookie = "interlock_login_csrf"

    func addLoginRoutes(_ router: Router<ServerContext>) {
        router.get("/login") { request, context in
            if context.principal?.session != nil { return Responses.redirect("/sites") }
            return self.loginPage(request: request, next: FormFields.query(request).text("next"), username: nil, error: nil, status: .ok)
        }
        router.post("/login") { request, context in
            let form = try await FormFields.body(request)
            let address = context.remoteAddress
            let username = form.text("username") ?? ""
            let next = Self.safeNext(form.text("next"))
            guard let expected = Responses.cookies(request)[Self.loginCookie], let token = form["csrf"],
                  PasswordHash.constantTimeEqual(Array(expected.utf8), Array(token.utf8)) else {
                try await self.auditLogin(username, success: false, action: "login.failed", error: "the sign-in form's security token was missing or wrong", address: address,
                                          aggregate: "form@" + address)
                return self.loginPage(request: request, next: next, username: username, error: "The sign-in form expired. Please try again.", status: .forbidden)
            }
            let user = self.instance.configuration.user(username)
            if let until = self.throttle.lockedUntil(account: username, address: address) {
                try await self.auditLogin(username, success: false, action: "login.failed", error: "locked until \(ConsoleViews.utc(until)) after repeated failures", address: address,
                                          aggregate: "locked:" + username + "@" + address)
                return self.loginPage(request: request, next: next, username: username,
                                      error: "Too many failed sign-ins. Try again after \(ConsoleViews.utc(until)).", status: .tooManyRequests)
            }
            let password = form["password"] ?? ""
            let hash = user?.passwordHash.flatMap { try? PasswordHash(parsing: $0) }
            let decoy = self.decoy
            let matches = try await offload { (hash ?? decoy).matches(password) && hash != nil }
            guard let user, matches else {
                let reason = user == nil ? "no such user" : hash == nil ? "the user has no password configured" : "wrong password"
                try await self.auditLogin(username, success: false, action: "login.failed", error: reason, address: address,
                                          aggregate: username + "@" + address)
                if self.throttle.recordFailure(account: username, address: address) {
                    try await self.auditLogin(username, success: false, action: "login.locked",
                                              error: "locked for \(Int(self.throttle.lockout / 60)) minutes after \(self.throttle.maximumFailures) failures", address: address)
                }
                return self.loginPage(request: request, next: next, username: username, error: "The user id or the password is not right.", status: .unauthorized)
            }
            self.throttle.recordSuccess(account: user.id)
            let session = try self.sessions.create(userID: user.id, credential: SessionStore.credential(of: user.passwordHash))
            try await self.auditLogin(user.id, success: true, action: "login.succeeded", error: nil, address: address)
            var response = Responses.redirect(next)
            response.headers.append(HTTPField(name: .setCookie, value: Responses.cookie(SessionStore.cookieName, session.id, secure: self.secureCookies)))
            response.headers.append(HTTPField(name: .setCookie, value: Responses.cookie(Self.loginCookie, "", secure: self.secureCookies, maxAge: 0)))
            return response
        }
        router.post("/logout") { request, context in
            guard let principal = context.principal, let session = principal.session else { return Responses.redirect("/login") }
            let form = try await FormFields.body(request)
            try await self.checkCSRF(principal, token: form["csrf"], path: "/logout", address: context.remoteAddress)
            try self.sessions.end(id: session.id)
            try await self.auditLogin(principal.user.id, success: true, action: "logout", error: nil, address: context.remoteAddress)
            var response = Responses.redirect("/login")
            response.headers.append(HTTPField(name: .setCookie, value: Responses.cookie(SessionStore.cookieName, "", secure: self.secureCookies, maxAge: 0)))
            return response
        }
    }

    /// Only local paths: never redirect to another site after signing in.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), next != "/login" else { return "/sites" }
        return next
    }

    func loginPage(request: Request, next: String?, username: String?, error: String?, status: HTTPResponse.Status) -> Response {
        let token = Responses.cookies(request)[Self.loginCookie].flatMap { $0.count == 43 ? $0 : nil } ?? Base64URL.random(32)
        var response = views.page("login", title: "Sign in", data: ConsoleViews.view([
            "csrf": token, "next": Self.safeNext(next), "username": username, "error": error,
            "maxFailures": throttle.maximumFailures, "lockoutMinutes": Int(throttle.lockout / 60),
        ]), principal: nil, status: status)
        response.headers.append(HTTPField(name: .setCookie, value: Responses.cookie(Self.loginCookie, token, secure: secureCookies)))
        return response
    }

    /// - Parameter aggregate: for failures, the caller they are counted under (the first of a window is recorded,
    ///   the repeats counted); nil records the event as it is (successes, lock events).
    func auditLogin(_ username: String, success: Bool, action: String, error: String?, address: String, aggregate: String? = nil) async throws {
        let user = instance.configuration.user(username)
        let event = AuditEvent(
            actor: Person(id: username.isEmpty ? "(none)" : String(username.prefix(100)), name: user?.name ?? String(username.prefix(100))),
            role: user?.title ?? "unknown", authentication: "local-password", category: .access, action: action, success: success, error: error,
            details: ["remoteAddress": address, "knownUser": user == nil ? "no" : "yes"])
        if let aggregate {
            try await auditFailure(action: action, subject: aggregate, address: address, event)
        } else {
            try await audit(event)
        }
    }
}
