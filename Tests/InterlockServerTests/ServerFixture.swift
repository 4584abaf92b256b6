import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InterlockEngine
import InterlockModel
import InterlockServer
import InterlockStore

/// The Examples repository committed to a temporary git repository, a real state database with a signing
/// key, a test clock outside every window, and users with (fast, test-only) password hashes. After one
/// reconcile pass plant-a-1 and plant-b-1 wait for approval: both sites' first deployment.
final class ServerFixture: @unchecked Sendable {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples").path
    /// Wednesday noon in Stuttgart: no window is open at either plant.
    static let outsideWindows = "2026-11-25T12:00:00+01:00"

    static let passwords = [
        "mgr-plant-a": "anna-secret-1", "mgr-plant-b": "maria-secret-1", "ot-lead-plant-b": "darnell-secret-1",
        "audit-office": "audit-secret-1", "viewer": "viewer-secret-1", "ops": "ops-secret-1",
    ]
    static let tokens = ["mgr-plant-a": "ilk_test-token-anna", "viewer": "ilk_test-token-viewer", "audit-office": "ilk_test-token-audit"]

    let base: String
    let instance: InterlockInstance
    let loop: ReconcileLoop
    let server: WebServer
    let clock: TestClock

    init(maximumFailures: Int = 3) throws {
        base = NSTemporaryDirectory() + "interlock-server-\(UUID().uuidString)"
        let repo = base + "/repo"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.examples, toPath: repo)
        try? FileManager.default.removeItem(atPath: repo + "/try.sh")
        try Self.git(["init", "-q"], in: repo)
        try Self.git(["add", "-A"], in: repo)
        try Self.git(["commit", "-qm", "Initial desired state"], in: repo)

        func user(_ id: String, _ name: String, _ title: String, _ roles: Set<InstanceConfiguration.User.Role>, _ sites: [String], _ groups: [String] = []) -> InstanceConfiguration.User {
            InstanceConfiguration.User(
                id: id, name: name, email: "\(id)@example.com", title: title, roles: roles, sites: sites, groups: groups,
                passwordHash: PasswordHash(password: Self.passwords[id]!, salt: Array("salt-\(id)".utf8), iterations: 1000).description,
                apiTokens: Self.tokens[id].map { [APIToken.hash($0)] } ?? [])
        }
        let configuration = InstanceConfiguration(users: [
            user("mgr-plant-a", "Anna Berger", "plant manager", [.approver, .viewer], ["plant-a"], ["plant-a-managers"]),
            user("mgr-plant-b", "Maria Lopez", "plant manager", [.approver, .viewer], ["plant-b"], ["plant-b-managers"]),
            user("ot-lead-plant-b", "Darnell Hayes", "OT lead", [.approver], ["plant-b"]),
            user("audit-office", "Quality & Compliance", "auditor", [.auditor], ["*"]),
            user("viewer", "Shift Lead", "viewer", [.viewer], ["*"]),
            user("ops", "IT operations", "operator", [.operator], ["*"]),
        ])
        let state = base + "/state"
        _ = try KeyStore.createIfMissing(in: state)
        clock = try TestClock(iso8601: Self.outsideWindows)
        instance = InterlockInstance(
            configuration: configuration, source: RepositorySource(repo), revision: "HEAD", stateDirectory: state,
            planning: SitePlanning(targetBase: base + "/targets", workingDirectory: repo), store: try SQLiteStore(stateDirectory: state),
            clock: clock, runHooks: false)
        loop = ReconcileLoop(instance: instance, observations: Observations(), metrics: ServerMetrics(), interval: .seconds(3600))
        loop.pass()
        server = WebServer(instance: instance, loop: loop, throttle: LoginThrottle(maximumFailures: maximumFailures))
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    static func git(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-c", "user.name=Flow Manager", "-c", "user.email=flows@example.com", "-c", "init.defaultBranch=main",
                             "-c", "commit.gpgsign=false"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw GitFailure(arguments: arguments, message: message) }
    }

    struct GitFailure: Error, CustomStringConvertible {
        var arguments: [String]
        var message: String
        var description: String { "git \(arguments.joined(separator: " ")) failed: \(message)" }
    }

    var app: some ApplicationProtocol { Application(router: server.makeRouter()) }

    /// Another replica of the server: its own instance, store connection and loop on the same state database.
    func replica(configuration: InstanceConfiguration? = nil) throws -> WebServer {
        let other = InterlockInstance(
            configuration: configuration ?? instance.configuration, source: instance.source, revision: "HEAD", stateDirectory: instance.stateDirectory,
            planning: instance.planning, store: try SQLiteStore(stateDirectory: instance.stateDirectory), clock: clock, runHooks: false)
        let loop = ReconcileLoop(instance: other, observations: Observations(), metrics: ServerMetrics(), interval: .seconds(3600))
        return WebServer(instance: other, loop: loop)
    }

    /// The desired-state repository (a git working tree).
    var repo: String { base + "/repo" }

    func actions() throws -> [String] { try instance.store.records(matching: .all).map(\.action) }
    func records(_ action: String) throws -> [AuditRecord] { try instance.store.records(matching: AuditQuery(action: .exact(action))) }
}

/// A browser's view of a session: its cookie and the CSRF token of its forms.
struct Browser: Sendable {
    var cookie: String
    var csrf: String

    var headers: HTTPFields { [.cookie: cookie] }

    func form(_ fields: [String: String]) -> (HTTPFields, ByteBuffer) {
        var headers = self.headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        return (headers, Form.encode(fields))
    }
}

enum Form {
    static func encode(_ fields: [String: String]) -> ByteBuffer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let text = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        return ByteBuffer(string: text)
    }

    static var headers: HTTPFields { [.contentType: "application/x-www-form-urlencoded"] }

    /// The value of the first hidden input named `name` in `html`.
    static func hidden(_ name: String, in html: String) -> String? {
        guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        let rest = html[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    /// `name=value` of a Set-Cookie header with this cookie name.
    static func cookie(_ name: String, in headers: HTTPFields) -> String? {
        headers[values: .setCookie].first { $0.hasPrefix(name + "=") }.map { String($0.split(separator: ";")[0]) }
    }
}

extension TestClientProtocol {
    /// Signs in through the console's form; returns the session cookie and the CSRF token of its forms.
    func signIn(_ user: String, password: String? = nil) async throws -> Browser {
        let page = try await execute(uri: "/login", method: .get)
        let loginCookie = Form.cookie("interlock_login_csrf", in: page.headers)!
        let token = Form.hidden("csrf", in: String(buffer: page.body))!
        var headers = Form.headers
        headers[.cookie] = loginCookie
        let response = try await execute(
            uri: "/login", method: .post, headers: headers,
            body: Form.encode(["csrf": token, "username": user, "password": password ?? ServerFixture.passwords[user]!, "next": "/sites"]))
        guard response.status == .seeOther, let session = Form.cookie("interlock_session", in: response.headers) else {
            throw CocoaError(.userCancelled)
        }
        let sites = try await execute(uri: "/sites", method: .get, headers: [.cookie: session])
        return Browser(cookie: session, csrf: Form.hidden("csrf", in: String(buffer: sites.body))!)
    }

    func json(_ uri: String, method: HTTPRequest.Method = .get, token: String? = nil, headers: HTTPFields = [:], body: String? = nil) async throws -> (HTTPResponse.Status, Any?) {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let object = try? JSONSerialization.jsonObject(with: Data(buffer: response.body), options: [.fragmentsAllowed])
        return (response.status, object)
    }
}
