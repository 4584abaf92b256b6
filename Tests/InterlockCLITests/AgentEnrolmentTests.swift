import Foundation
import Testing

/// Plant agents enrol and authenticate over real TLS, as real processes: `interlock serve` with its agent listener and
/// two `interlock agent` processes (Plant A and Plant B, each with its own state directory). An operator makes the
/// tokens, an admin approves (an operator may not), the agents stay in contact with their client certificates; a
/// used token, a certificate of one plant used for another plant's routes, no certificate, a certificate from another
/// authority and a revoked certificate are all refused, and every step is in the audit log, which verifies.
@Suite(.serialized) struct AgentEnrolmentTests {
    typealias Workspace = CommandLineTests.Workspace

    /// An HTTPS request with python3's ssl module: status and body (status 0 and the error when TLS refused).
    static func https(_ method: String, _ url: String, ca: String, certificate: String? = nil, key: String? = nil, json: String? = nil) throws -> (status: Int, body: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("https-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sys, ssl, urllib.request, urllib.error
            method, url, ca, cert, key, body, out = sys.argv[1:8]
            context = ssl.create_default_context(cafile=ca)
            if cert: context.load_cert_chain(cert, key)
            request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
            if body: request.add_header("Content-Type", "application/json")
            try:
                r = urllib.request.urlopen(request, timeout=30, context=context); code, data = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, data = e.code, e.read()
            except Exception as e:
                code, data = 0, repr(e).encode()
            open(out, "wb").write(str(code).encode() + b"\\n" + data)
            """, method, url, ca, certificate ?? "", key ?? "", json ?? "", out]
        try process.run()
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? String(lines[1]) : "")
    }

    static func token(_ output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix("token:") }.map { String($0.dropFirst(6)).trimmingCharacters(in: .whitespaces) }
    }

    static func enrolment(_ output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix("enrolment:") }?.split(separator: " ").dropFirst().first.map(String.init)
    }

    /// Adds an admin (password ops-pass-1) to the workspace's users.
    static func addAdmin(_ w: Workspace) throws {
        let file = w.root + "/interlock.yaml"
        var text = try String(contentsOfFile: file, encoding: .utf8)
        text += "\n  - { id: it-admin, name: Ina Admin, title: administrator, roles: [admin], sites: [\"*\"],\n"
            + "      passwordHash: \"pbkdf2-sha256$100000$ksS8/ir1Gvbw2e36wviuoA==$GOR4hAHmYKeFolhz1Em4IFTNjxfyDQ19pU8D5QnUp8o=\" }\n"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }

    @Test(.timeLimit(.minutes(4))) func agentsEnrolWithAnAdminsApprovalAndOnlyTheirOwnSiteAndCertificateAreAccepted() async throws {
        let w = try Workspace()
        try Self.addAdmin(w)
        #expect(try w.run("init").status == 0)
        let port = 20000 + Int.random(in: 0..<20000)
        let agentPort = port + 1
        let (server, _, serverLog) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "5", "--hooks", "skip",
                                                  "--agent-address", "127.0.0.1:\(agentPort)"])
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() } }
        let ca = w.state + "/agent-ca/ca.pem"
        let listener = "https://127.0.0.1:\(agentPort)"
        let up = try await ReplicaFaultTests.waitUntil(60) {
            guard FileManager.default.fileExists(atPath: ca) else { return false }
            return try Self.https("GET", listener + "/agent/v1/enrolments/none", ca: ca).status == 404
        }
        #expect(up, "the agent listener answers over TLS: \((try? String(contentsOfFile: serverLog, encoding: .utf8)) ?? "")")

        // An operator makes one-time tokens for both plants; an unknown site is refused.
        let unknown = try w.runAs("ops", ["agent", "enrol", "--site", "plant-z", "--repo", w.repo])
        #expect(unknown.status == 1 && unknown.stderr.contains("no site 'plant-z'"))
        let enrolA = try w.runAs("ops", ["agent", "enrol", "--site", "plant-a", "--expires", "1h", "--repo", w.repo])
        let enrolB = try w.runAs("ops", ["agent", "enrol", "--site", "plant-b", "--repo", w.repo])
        #expect(enrolA.status == 0 && enrolB.status == 0, "\(enrolA.stderr)\(enrolB.stderr)")
        let tokenA = try #require(Self.token(enrolA.stdout)), tokenB = try #require(Self.token(enrolB.stdout))
        let idA = try #require(Self.enrolment(enrolA.stdout)), idB = try #require(Self.enrolment(enrolB.stdout))

        func agent(_ name: String, token: String?) throws -> (Process, String) {
            var arguments = ["agent", "--server", listener, "--server-ca", ca, "--state-dir", w.root + "/agent-\(name)", "--interval", "1"]
            if let token { arguments += ["--token", token] }
            let (process, _, log) = try w.start(arguments, environment: ["LOG_LEVEL": "info"])
            return (process, log)
        }
        let (agentA, logA) = try agent("a", token: tokenA)
        let (agentB, logB) = try agent("b", token: tokenB)
        defer { for process in [agentA, agentB] where process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        func list() throws -> String { try w.run("agent", "list", "--repo", w.repo).stdout }
        let requested = try await ReplicaFaultTests.waitUntil(60) { try list().components(separatedBy: " requested ").count == 3 }
        #expect(requested, "both agents asked to enrol: \((try? list()) ?? "")")

        // A used token is refused for good, and audited; so is a made-up one.
        let (thief, thiefLog) = try agent("thief", token: tokenA)
        thief.waitUntilExit()
        #expect(thief.terminationStatus == 1)
        #expect(((try? String(contentsOfFile: thiefLog, encoding: .utf8)) ?? "").contains("unknown, already used or expired"))
        let forged = try Self.https("POST", listener + "/agent/v1/enrol", ca: ca, json: "{\"token\": \"ilk_enrol_forged\", \"csr\": \"x\"}")
        #expect(forged.status == 400 || forged.status == 403)

        // Only an admin approves: the operator who made the token may not.
        let byOperator = try w.runAs("ops", ["agent", "approve", idA, "--repo", w.repo])
        #expect(byOperator.status == 1 && byOperator.stderr.contains("not an admin"))
        // Plant A's first certificate lives one minute: the agent renews it at once (after two thirds of it).
        #expect(try w.runAs("it-admin", ["agent", "approve", idA, "--validity", "10s", "--repo", w.repo], password: "ops-pass-1").status == 64)
        let approvedA = Date()
        #expect(try w.runAs("it-admin", ["agent", "approve", idA, "--validity", "1m", "--repo", w.repo], password: "ops-pass-1").status == 0)
        #expect(try w.runAs("it-admin", ["agent", "approve", idB, "--repo", w.repo], password: "ops-pass-1").status == 0)
        #expect(try w.runAs("it-admin", ["agent", "approve", idB, "--repo", w.repo], password: "ops-pass-1").status == 1, "an enrolment is decided once")
        let contact = try await ReplicaFaultTests.waitUntil(60) {
            let lines = try list().split(separator: "\n")
            return ["plant-a", "plant-b"].allSatisfy { site in lines.contains { $0.contains("\(site)  valid until") && $0.contains("last contact") } }
        }
        #expect(contact, "both agents are in contact: \((try? list()) ?? "")\n\((try? String(contentsOfFile: logA, encoding: .utf8)) ?? "")")

        // The agents' identities: the server decided the site; the key never left the plant host.
        let certificateA = w.root + "/agent-a/certificate.pem", keyA = w.root + "/agent-a/key.pem"
        let issued = try Self.https("GET", listener + "/agent/v1/enrolments/\(idA)", ca: ca).body
        let firstA = try #require((try? JSONSerialization.jsonObject(with: Data(issued.utf8)) as? [String: Any])?["certificate"] as? String, "\(issued)")
        let firstCopy = w.root + "/first-certificate-a.pem"
        try firstA.write(toFile: firstCopy, atomically: true, encoding: .utf8)
        let renewed = try await ReplicaFaultTests.waitUntil(30) { try String(contentsOfFile: certificateA, encoding: .utf8) != firstA }
        #expect(renewed, "the agent renewed its short-lived certificate: \((try? String(contentsOfFile: logA, encoding: .utf8)) ?? "")")
        let keyMode = try FileManager.default.attributesOfItem(atPath: keyA)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let hello = "{\"agentTime\": \"2026-12-05T12:00:00Z\", \"agentVersion\": \"test\"}"
        #expect(try Self.https("POST", listener + "/agent/v1/sites/plant-a/hello", ca: ca, certificate: certificateA, key: keyA, json: hello).status == 200)
        let crossed = try Self.https("POST", listener + "/agent/v1/sites/plant-b/hello", ca: ca, certificate: certificateA, key: keyA, json: hello)
        #expect(crossed.status == 403 && crossed.body.contains("speaks for plant-a, not for plant-b"))
        let anonymous = try Self.https("POST", listener + "/agent/v1/sites/plant-a/hello", ca: ca, json: hello)
        #expect(anonymous.status == 401)

        // A certificate from another authority does not get past the handshake.
        let other = w.root + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                             "-subj", "/CN=agent of plant-a", "-addext", "subjectAltName=URI:urn:interlock:agent:site:plant-a",
                             "-keyout", other + "/key.pem", "-out", other + "/certificate.pem"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        let foreign = try Self.https("POST", listener + "/agent/v1/sites/plant-a/hello", ca: ca, certificate: other + "/certificate.pem", key: other + "/key.pem", json: hello)
        #expect(foreign.status == 0, "refused in the handshake: \(foreign.body)")

        // Revoking Plant B's agent stops it at its next contact.
        #expect(try w.runAs("ops", ["agent", "revoke", "--site", "plant-b", "--reason", "host replaced", "--repo", w.repo]).status == 0)
        let stopped = try await ReplicaFaultTests.waitUntil(30) { !agentB.isRunning }
        #expect(stopped)
        if stopped { #expect(agentB.terminationStatus == 1) }
        #expect(((try? String(contentsOfFile: logB, encoding: .utf8)) ?? "").contains("was revoked"))
        #expect(agentA.isRunning, "Plant A's agent is not affected")

        // Plant A's first certificate, once its minute is over: refused (in the handshake, or by the server).
        try await Task.sleep(nanoseconds: UInt64(max(0, 62 - Date().timeIntervalSince(approvedA)) * 1e9))
        let expired = try Self.https("POST", listener + "/agent/v1/sites/plant-a/hello", ca: ca, certificate: firstCopy, key: keyA, json: hello)
        #expect(expired.status == 0 || (expired.status == 403 && expired.body.contains("not valid now")), "\(expired.status) \(expired.body)")
        #expect(try Self.https("POST", listener + "/agent/v1/sites/plant-a/hello", ca: ca, certificate: certificateA, key: keyA, json: hello).status == 200,
                "the renewed certificate is accepted")

        // The audit log tells all of it, and verifies.
        let actions = try ReplicaFaultTests.records(w).compactMap { $0["action"] as? String }
        for action in ["agent.enrolment.created", "agent.enrolment.requested", "agent.enrolment.refused", "agent.approve.refused",
                       "agent.enrolment.approved", "agent.access.denied", "agent.certificate.revoked", "agent.certificate.renewed"] {
            #expect(actions.contains(action), "\(action) recorded")
        }
        let denied = try ReplicaFaultTests.records(w).filter { $0["action"] as? String == "agent.access.denied" }
        #expect(denied.contains { ($0["site"] as? String) == "plant-b" && (($0["details"] as? [String: Any])?["certificateSite"] as? String) == "plant-a" })
        #expect(try w.run("audit", "verify").status == 0)
    }
}
