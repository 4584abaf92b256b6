import Foundation
import Testing

/// A push webhook end to end: a bare repository served over `file://`, `interlock serve` following it with a poll
/// interval of an hour, a push, and the host's signed webhook: the change is planned within seconds. Unsigned and
/// wrongly signed requests get 401 and an audit record; a push to another branch is ignored.
@Suite(.serialized) struct GitWebhookTests {
    typealias Workspace = CommandLineTests.Workspace
    static let secret = "b7e1c0d2f4a6983514e7c9a0b2d4f6a8"

    /// An HTTP POST of a JSON body with the given headers (status, body).
    static func post(_ url: String, headers: [String: String], body: String) throws -> (status: Int, body: String) {
        try ReplicaFaultTests.http("POST", url, json: body, headers: headers)
    }

    /// The headers GitHub sends with `body`: its HMAC-SHA256 with the secret (computed by python3's hmac, as a
    /// receiver in another language would check it).
    static func signed(_ body: String) throws -> [String: String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
                             secret, body]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let hex = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        return ["X-GitHub-Event": "push", "X-GitHub-Delivery": UUID().uuidString, "X-Hub-Signature-256": "sha256=" + hex]
    }

    static func push(ref: String, after: String) -> String {
        #"{"ref": "\#(ref)", "after": "\#(after)", "repository": {"full_name": "example/desired-state", "clone_url": "https://git.example.com/example/desired-state.git"}}"#
    }

    static func queued(_ w: Workspace, site: String) throws -> [String] {
        try ReplicaFaultTests.records(w).filter { $0["action"] as? String == "change.queued" && $0["site"] as? String == site }.compactMap { $0["changeID"] as? String }
    }

    static func actions(_ w: Workspace) throws -> [String] { try ReplicaFaultTests.records(w).compactMap { $0["action"] as? String } }

    @Test(.timeLimit(.minutes(4))) func aSignedPushIsPlannedAtOnceAndEverythingElseIsRefusedOrIgnored() async throws {
        let w = try Workspace()
        let bare = w.root + "/desired-state.git"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        try w.git("init", "-q", "--bare", bare)
        try w.git("push", "-q", bare, "HEAD:refs/heads/main")
        let config = w.root + "/interlock.yaml"
        try (try String(contentsOfFile: config, encoding: .utf8)
             + "\nwebhooks:\n  git:\n    secret: \"\(Self.secret)\"\n    repository: example/desired-state\n").write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try w.run("init").status == 0)
        let port = 20000 + Int.random(in: 0..<20000)
        let base = "http://127.0.0.1:\(port)"
        let (server, _, log) = try w.start(["serve", "--repo", "file://" + bare, "--address", "127.0.0.1:\(port)", "--interval", "3600", "--hooks", "skip"])
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let ready = try await ReplicaFaultTests.waitUntil(90) { (try? Self.queued(w, site: "plant-a").count) == 1 }
        #expect(ready, "the first pass planned plant-a: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        // The store watcher's first reading asks for one more pass at start: let it run before pushing.
        let settled = try await ReplicaFaultTests.waitUntil(30) {
            let (status, body) = try ReplicaFaultTests.http("GET", base + "/readyz")
            return status == 200 && ((AgentSiteTests.json(body)["passes"] as? Int) ?? 0) >= 2
        }
        #expect(settled)
        try await Task.sleep(nanoseconds: 500_000_000)

        // A push: nothing happens until the next poll in an hour …
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4840", "opcua_port: 4841")
        try w.commit("Plant A's OPC UA server moves to port 4841")
        try w.git("push", "-q", bare, "HEAD:refs/heads/main")
        try await Task.sleep(nanoseconds: 2_000_000_000)
        #expect(try Self.queued(w, site: "plant-a").count == 1)

        // … and requests that are not the host's signed push change nothing.
        let body = Self.push(ref: "refs/heads/main", after: "0123456789abcdef0123456789abcdef01234567")
        let unsigned = try Self.post(base + "/api/v1/hooks/git", headers: ["X-GitHub-Event": "push"], body: body)
        #expect(unsigned.status == 401, "\(unsigned)")
        var forged = try Self.signed(body)
        forged["X-Hub-Signature-256"] = "sha256=" + String(repeating: "ab", count: 32)
        #expect(try Self.post(base + "/api/v1/hooks/git", headers: forged, body: body).status == 401)
        let tampered = try Self.post(base + "/api/v1/hooks/git", headers: try Self.signed(body), body: body.replacingOccurrences(of: "main", with: "main "))
        #expect(tampered.status == 401, "a body changed after signing: \(tampered)")
        let otherBranch = Self.push(ref: "refs/heads/feature/new-meters", after: "0123456789abcdef0123456789abcdef01234567")
        let ignored = try Self.post(base + "/api/v1/hooks/git", headers: try Self.signed(otherBranch), body: otherBranch)
        #expect(ignored.status == 202 && ignored.body.contains("ignored"), "\(ignored)")
        try await Task.sleep(nanoseconds: 1_500_000_000)
        #expect(try Self.queued(w, site: "plant-a").count == 1, "refused and ignored requests run no pass")
        let refused = try ReplicaFaultTests.records(w).filter { $0["action"] as? String == "webhook.refused" }
        #expect(!refused.isEmpty, "a refused webhook is audited")

        // The host's signed push: fetched and planned at once.
        let sent = Date()
        // A host that adds an Authorization header (Gitea's option): not taken for a user's API token.
        let accepted = try Self.post(base + "/api/v1/hooks/git", headers: try Self.signed(body).merging(["Authorization": "Bearer gitea-hook"]) { $1 }, body: body)
        #expect(accepted.status == 202 && accepted.body.contains("accepted"), "\(accepted)")
        let planned = try await ReplicaFaultTests.waitUntil(30) { (try? Self.queued(w, site: "plant-a").count) == 2 }
        #expect(planned, "the push was planned: \((try? String(contentsOfFile: log, encoding: .utf8).suffix(3000)) ?? "")")
        print("webhook to change queued: \(String(format: "%.2f", Date().timeIntervalSince(sent))) s (including the audit log reads of this test)")
        #expect(try Self.actions(w).contains("webhook.push"))
        #expect(try !Self.actions(w).contains("token.refused"), "the webhook's Authorization header is not an API token")
        // The same signed body again (a redelivery or a replay): accepted, counted, not recorded again.
        let pushes = try Self.actions(w).filter { $0 == "webhook.push" }.count
        #expect(try Self.post(base + "/api/v1/hooks/git", headers: try Self.signed(body), body: body).status == 202)
        #expect(try Self.actions(w).filter { $0 == "webhook.push" }.count == pushes)
        #expect(try w.run("audit", "verify").status == 0)
    }
}
