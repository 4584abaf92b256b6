import Foundation
import InterlockTestSupport
import Testing

/// Notifications end to end, against a real SMTP server (aiosmtpd from PyPI, STARTTLS and authentication required)
/// and real HTTP receivers on loopback that check the webhook's HMAC: who is told, in which form, and what happens
/// when a channel is down — delayed, never lost, never silently repeated; given up only after the last attempt, which
/// is recorded and itself notified.
@Suite(.serialized) struct NotificationTests {
    typealias Workspace = CommandLineTests.Workspace
    static let hookSecret = "5f0c3d9e8a7b6c5d4e3f2a1b0c9d8e7f"
    static let scripts = CommandLineTests.packageRoot + "/Tests/notifications"

    /// A helper process (the SMTP server, a receiver) that says "ready <port>" when it listens.
    final class Helper {
        let process: Process
        let output: String

        init(_ arguments: [String], in directory: String) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + arguments
            output = directory + "/.helper-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var log: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

        func ready() async throws -> Bool {
            _ = try await ReplicaFaultTests.waitUntil(30) { self.log.contains("ready ") || !self.process.isRunning }
            return process.isRunning && log.contains("ready ")
        }

        func stop() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func port() -> Int { 20000 + Int.random(in: 0..<20000) }

    /// A self-signed certificate for `localhost`, as the SMTP server's.
    static func certificate(in directory: String) throws -> (cert: String, key: String) {
        let cert = directory + "/smtp-cert.pem", key = directory + "/smtp-key.pem"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return (cert, key)
    }

    static func smtpServer(port: Int, mails: String, cert: (cert: String, key: String), in root: String) throws -> Helper {
        try Helper([scripts + "/smtp_server.py", "--port", String(port), "--dir", mails, "--cert", cert.cert, "--key", cert.key,
                    "--user", "interlock", "--password", "smtp-pass-1"], in: root)
    }

    /// The messages the SMTP server accepted: envelope and the raw message.
    static func mails(_ directory: String) -> [(envelope: [String: Any], message: String)] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".eml") }
            .sorted { Int($0.dropLast(4)) ?? 0 < Int($1.dropLast(4)) ?? 0 }
        return names.compactMap { name in
            let base = directory + "/" + name.dropLast(4)
            guard let message = try? String(contentsOfFile: base + ".eml", encoding: .utf8),
                  let data = FileManager.default.contents(atPath: base + ".json"),
                  let envelope = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return (envelope, message)
        }
    }

    /// The decoded text of a message's part of `type` (base64, as Interlock sends them).
    static func part(_ message: String, _ type: String) -> String? {
        guard let start = message.range(of: "Content-Type: \(type)") else { return nil }
        let rest = message[start.upperBound...]
        guard let blank = rest.range(of: "\r\n\r\n") ?? rest.range(of: "\n\n") else { return nil }
        let body = rest[blank.upperBound...].prefix { $0 != "-" }
        return Data(base64Encoded: body.replacingOccurrences(of: "\r\n", with: "").replacingOccurrences(of: "\n", with: "")).map { String(decoding: $0, as: UTF8.self) }
    }

    static func requests(_ directory: String) -> [[String: Any]] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }
            .sorted { Int($0.dropLast(5)) ?? 0 < Int($1.dropLast(5)) ?? 0 }
        return names.compactMap { name in
            FileManager.default.contents(atPath: directory + "/" + name).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
    }

    static func outbox(_ w: Workspace, status: String? = nil) throws -> [[String: Any]] {
        let out = try w.run(["notifications", "--repo", w.repo, "--json", "--limit", "500"] + (status.map { ["--status", $0] } ?? []), environment: [:]).stdout
        return ((try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any])?["notifications"] as? [[String: Any]] ?? []
    }

    /// The instance configuration's notifications section for these tests.
    static func configure(_ w: Workspace, smtpPort: Int, hubPort: Int, teamsPort: Int, cert: String, maxAttempts: Int = 10) throws {
        try "smtp-pass-1\n".write(toFile: w.root + "/smtp-password", atomically: true, encoding: .utf8)
        try "\(hookSecret)\n".write(toFile: w.root + "/hook-secret", atomically: true, encoding: .utf8)
        let config = w.root + "/interlock.yaml"
        try (try String(contentsOfFile: config, encoding: .utf8) + """

            notifications:
              consoleURL: https://interlock.plants.example
              firstRetry: 1s
              maxAttempts: \(maxAttempts)
              email:
                host: localhost
                port: \(smtpPort)
                security: starttls
                username: interlock
                passwordFile: \(w.root)/smtp-password
                from: "Interlock <interlock@plants.example>"
                caFile: \(cert)
              webhooks:
                - { name: ot-hub, url: "http://127.0.0.1:\(hubPort)/interlock", format: json, secretFile: \(w.root)/hook-secret }
                - { name: plant-a-teams, url: "http://127.0.0.1:\(teamsPort)/teams", format: teams }
              rules:
                - { events: [approval-needed], sites: [plant-a], to: [approvers, webhook:plant-a-teams] }
                - { events: [approval-needed, applied], to: [webhook:ot-hub] }
                - { events: [delivery-failed], to: ["email:it-ops@plants.example"] }

            """).write(toFile: config, atomically: true, encoding: .utf8)
    }

    @Test(.timeLimit(.minutes(4))) func annaIsAskedToSignByMailOverSTARTTLSTheHubGetsASignedPayloadAndTeamsACard() async throws {
        let w = try Workspace()
        let mails = w.root + "/mails", hub = w.root + "/hub", teams = w.root + "/teams"
        let cert = try Self.certificate(in: w.root)
        let smtpPort = Self.port(), hubPort = Self.port(), teamsPort = Self.port()
        let smtp = try Self.smtpServer(port: smtpPort, mails: mails, cert: cert, in: w.root)
        let hubReceiver = try Helper([Self.scripts + "/receiver.py", "--port", String(hubPort), "--dir", hub, "--secret", Self.hookSecret], in: w.root)
        let teamsReceiver = try Helper([Self.scripts + "/receiver.py", "--port", String(teamsPort), "--dir", teams], in: w.root)
        defer { smtp.stop(); hubReceiver.stop(); teamsReceiver.stop() }
        #expect(try await smtp.ready(), "\(smtp.log)")
        #expect(try await hubReceiver.ready())
        #expect(try await teamsReceiver.ready())
        try Self.configure(w, smtpPort: smtpPort, hubPort: hubPort, teamsPort: teamsPort, cert: cert.cert)
        #expect(try w.run("init").status == 0)
        #expect(try w.deployDirectly("plant-a").status == 0)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4840", "opcua_port: 4841")
        try w.commit("Plant A's OPC UA server moves to port 4841")

        let port = Self.port()
        let (server, _, log) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "2", "--hooks", "skip"])
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        // Anna (an approver of Plant A with an address) is asked by mail; Jonas has no address; Maria is Plant B's.
        let mailed = try await ReplicaFaultTests.waitUntil(60) { Self.mails(mails).contains { ($0.envelope["to"] as? [String]) == ["anna.berger@example.com"] } }
        #expect(mailed, "a mail to Anna: \(Self.mails(mails).map(\.envelope)) \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let toAnna = try #require(Self.mails(mails).first { ($0.envelope["to"] as? [String]) == ["anna.berger@example.com"] })
        #expect(toAnna.envelope["tls"] as? Bool == true, "STARTTLS before the message: \(toAnna.envelope)")
        #expect(toAnna.envelope["authenticated"] as? Bool == true)
        #expect(toAnna.message.contains("Subject: [Interlock] plant-a-2 at Plant A waits for your signature"), "\(toAnna.message.prefix(600))")
        #expect(toAnna.message.contains("From: Interlock <interlock@plants.example>"))
        let text = try #require(Self.part(toAnna.message, "text/plain"), "\(toAnna.message)")
        #expect(text.contains("Hello Anna Berger,"))
        #expect(text.contains("Read the plan and sign: https://interlock.plants.example/changes/plant-a-2"), "\(text)")
        #expect(text.contains("CET") || text.contains("CEST"), "plant time with its zone: \(text)")
        let html = try #require(Self.part(toAnna.message, "text/html"))
        #expect(html.contains("href=\"https://interlock.plants.example/changes/plant-a-2\""), "\(html)")
        #expect(!Self.mails(mails).contains { ($0.envelope["to"] as? [String])?.contains("maria.lopez@example.com") == true })

        // The hub's payload is signed with the shared secret (the receiver refuses anything else with 401).
        let hubbed = try await ReplicaFaultTests.waitUntil(30) { !Self.requests(hub).isEmpty }
        #expect(hubbed)
        let request = try #require(Self.requests(hub).first)
        #expect(request["signatureValid"] as? Bool == true)
        let headers = request["headers"] as? [String: String] ?? [:]
        #expect(headers["X-Interlock-Event"] == "approval-needed")
        let payload = try #require(try JSONSerialization.jsonObject(with: Data((request["body"] as? String ?? "").utf8)) as? [String: Any])
        #expect(payload["event"] as? String == "approval-needed" && payload["change"] as? String == "plant-a-2" && payload["site"] as? String == "plant-a")
        #expect(payload["link"] as? String == "https://interlock.plants.example/changes/plant-a-2")
        #expect(payload["id"] as? String == headers["X-Interlock-Delivery"], "the payload's id is the delivery id")
        // Teams gets a message card with a button to the change.
        let teamsed = try await ReplicaFaultTests.waitUntil(30) { !Self.requests(teams).isEmpty }
        #expect(teamsed)
        let card = try #require(try JSONSerialization.jsonObject(with: Data((Self.requests(teams).first?["body"] as? String ?? "").utf8)) as? [String: Any])
        #expect(card["@type"] as? String == "MessageCard")
        #expect((card["title"] as? String)?.contains("waits for your signature") == true)

        // Every delivery is in the audit log, and the outbox says sent.
        let sent = try await ReplicaFaultTests.waitUntil(30) { try Self.outbox(w, status: "sent").count >= 3 }
        #expect(sent, "\((try? Self.outbox(w)) ?? [])")
        let records = try ReplicaFaultTests.records(w).filter { $0["action"] as? String == "notification.sent" }
        let recipients = Set(records.compactMap { ($0["details"] as? [String: Any])?["recipient"] as? String })
        #expect(recipients.isSuperset(of: ["anna.berger@example.com", "ot-hub", "plant-a-teams"]), "\(recipients)")
        // Each once: a pass that finds the same change again queues nothing new.
        try await Task.sleep(nanoseconds: 5_000_000_000)
        #expect(Self.mails(mails).filter { ($0.envelope["to"] as? [String]) == ["anna.berger@example.com"] }.count == 1)
        // The hub hears every approval-needed (Plant B's first deployment too), each once.
        let hubPayloads = Self.requests(hub).map { (try? JSONSerialization.jsonObject(with: Data(($0["body"] as? String ?? "").utf8)) as? [String: Any]) ?? [:] }
        let aboutPlantA = hubPayloads.filter { $0["change"] as? String == "plant-a-2" && ($0["title"] as? String)?.hasPrefix("Reminder") == false }
        #expect(aboutPlantA.count == 1, "\(hubPayloads)")
        let ids = hubPayloads.compactMap { $0["id"] as? String }
        #expect(ids.count == Set(ids).count, "\(hubPayloads)")
        #expect(try w.run("audit", "verify").status == 0)
    }

    @Test(.timeLimit(.minutes(4))) func anSMTPServerThatIsDownDelaysTheMailAndAReceiverThatNeverAnswersIsGivenUpAndReported() async throws {
        let w = try Workspace()
        let mails = w.root + "/mails", hub = w.root + "/hub", teams = w.root + "/teams"
        let cert = try Self.certificate(in: w.root)
        let smtpPort = Self.port(), hubPort = Self.port(), teamsPort = Self.port()
        // The hub fails every request; Teams is fine; the SMTP server is not running yet. Six attempts each, the first
        // retry after a second, doubling.
        let hubReceiver = try Helper([Self.scripts + "/receiver.py", "--port", String(hubPort), "--dir", hub, "--secret", Self.hookSecret, "--fail-first", "1000"], in: w.root)
        let teamsReceiver = try Helper([Self.scripts + "/receiver.py", "--port", String(teamsPort), "--dir", teams], in: w.root)
        defer { hubReceiver.stop(); teamsReceiver.stop() }
        #expect(try await hubReceiver.ready())
        #expect(try await teamsReceiver.ready())
        try Self.configure(w, smtpPort: smtpPort, hubPort: hubPort, teamsPort: teamsPort, cert: cert.cert, maxAttempts: 6)
        #expect(try w.run("init").status == 0)
        #expect(try w.deployDirectly("plant-a").status == 0)
        try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: 4840", "opcua_port: 4841")
        try w.commit("Plant A's OPC UA server moves to port 4841")
        let port = Self.port()
        let (server, _, log) = try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(port)", "--interval", "2", "--hooks", "skip"])
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        // The mail to Anna waits: its second attempt fails too (the service's log says so at once).
        let serveLog = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        let delayed = try await ReplicaFaultTests.waitUntil(60) { serveLog().contains("approval-needed to anna.berger@example.com failed (attempt 2 of 6)") }
        #expect(delayed, "\(serveLog())")

        // The SMTP server comes up: the mail arrives at the next attempt, once.
        let smtp = try Self.smtpServer(port: smtpPort, mails: mails, cert: cert, in: w.root)
        defer { smtp.stop() }
        #expect(try await smtp.ready(), "\(smtp.log)")
        let arrived = try await ReplicaFaultTests.waitUntil(60) { Self.mails(mails).contains { ($0.envelope["to"] as? [String]) == ["anna.berger@example.com"] } }
        #expect(arrived, "\(Self.mails(mails).map(\.envelope)) \((try? Self.outbox(w)) ?? [])")
        let delivered = try #require(try Self.outbox(w, status: "sent").first { $0["recipient"] as? String == "anna.berger@example.com" })
        #expect((delivered["attempts"] as? Int ?? 0) >= 3, "delivered at a later attempt: \(delivered)")
        #expect((delivered["lastError"] as? String)?.contains("cannot connect to the SMTP server localhost:\(smtpPort)") == true, "the reason it waited is kept: \(delivered)")

        // The hub never answers 2xx: after the sixth attempt the notification is given up, recorded, and reported
        // by mail to IT operations.
        let givenUp = try await ReplicaFaultTests.waitUntil(90) { try Self.outbox(w, status: "failed").contains { $0["recipient"] as? String == "ot-hub" } }
        #expect(givenUp, "\((try? Self.outbox(w)) ?? [])")
        let failed = try #require(try Self.outbox(w, status: "failed").first { $0["recipient"] as? String == "ot-hub" })
        #expect(failed["attempts"] as? Int == 6)
        #expect((failed["lastError"] as? String)?.contains("answered 500") == true, "\(failed)")
        let record = try #require(try ReplicaFaultTests.records(w).first {
            $0["action"] as? String == "notification.failed" && ($0["details"] as? [String: Any])?["recipient"] as? String == "ot-hub"
        })
        #expect(record["result"] as? String == "failure")
        let reported = try await ReplicaFaultTests.waitUntil(60) { Self.mails(mails).contains { ($0.envelope["to"] as? [String]) == ["it-ops@plants.example"] } }
        #expect(reported, "\(Self.mails(mails).map(\.envelope)) \((try? Self.outbox(w)) ?? [])")
        let report = try #require(Self.mails(mails).first { ($0.envelope["to"] as? [String]) == ["it-ops@plants.example"] })
        #expect(report.message.contains("could not be delivered"), "\(report.message.prefix(400))")
        try await Task.sleep(nanoseconds: 3_000_000_000)
        #expect(Self.mails(mails).filter { ($0.envelope["to"] as? [String]) == ["anna.berger@example.com"] }.count == 1)
        #expect(Self.requests(hub).isEmpty, "the hub accepted nothing")
        #expect(try w.run("audit", "verify").status == 0)
    }

    @Test(.timeLimit(.minutes(5))) func twoReplicasOnOnePostgreSQLSendEachNotificationOnce() async throws {
        let w = try Workspace()
        let hub = w.root + "/hub", teams = w.root + "/teams"
        let cert = try Self.certificate(in: w.root)
        let hubPort = Self.port(), teamsPort = Self.port()
        let hubReceiver = try Helper([Self.scripts + "/receiver.py", "--port", String(hubPort), "--dir", hub, "--secret", Self.hookSecret], in: w.root)
        let teamsReceiver = try Helper([Self.scripts + "/receiver.py", "--port", String(teamsPort), "--dir", teams], in: w.root)
        defer { hubReceiver.stop(); teamsReceiver.stop() }
        #expect(try await hubReceiver.ready())
        #expect(try await teamsReceiver.ready())
        // E-mail goes to a port nobody listens on: only the webhooks are counted here.
        try Self.configure(w, smtpPort: Self.port(), hubPort: hubPort, teamsPort: teamsPort, cert: cert.cert)
        #expect(try w.run("init").status == 0)
        let deployed = try w.deployDirectly("plant-a")
        #expect(deployed.status == 0, "\(deployed.stdout) \(deployed.stderr)")
        // The state moves to PostgreSQL, which both replicas share.
        let cluster = PostgresCluster(name: "notifications")
        let url = try cluster.freshDatabaseURL()
        #expect(try w.run("store", "copy", "--from", "sqlite:" + w.state + "/interlock.db", "--to", url).status == 0)
        try FileManager.default.moveItem(atPath: w.state + "/interlock.db", toPath: w.root + "/before-the-move.db")
        w.baseEnvironment = ["INTERLOCK_DATABASE": url]
        let replicas = try (1...2).map { _ in
            try w.start(["serve", "--repo", w.repo, "--address", "127.0.0.1:\(Self.port())", "--interval", "1", "--hooks", "skip"])
        }
        defer { for (process, _, _) in replicas { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        // Three changes in a row, each one approval-needed for both webhooks.
        for (index, port) in [4841, 4842, 4843].enumerated() {
            try w.replace(w.repo + "/sites/plant-a/site.yaml", "opcua_port: \(port - 1)", "opcua_port: \(port)")
            try w.commit("Plant A's OPC UA server moves to port \(port)")
            let got = try await ReplicaFaultTests.waitUntil(60) { Self.requests(hub).count >= index + 1 && Self.requests(teams).count >= index + 1 }
            #expect(got, "\(Self.requests(hub).count) \(replicas.map { (try? String(contentsOfFile: $0.2, encoding: .utf8))?.suffix(1500) ?? "" })")
        }
        try await Task.sleep(nanoseconds: 4_000_000_000)
        let ids = Self.requests(hub).compactMap { ($0["headers"] as? [String: String])?["X-Interlock-Delivery"] }
        #expect(ids.count == Set(ids).count, "no delivery twice: \(ids)")
        // Reminders aside (a window may open within two hours of now), each change's request for signatures once.
        let payloads = Self.requests(hub).compactMap { try? JSONSerialization.jsonObject(with: Data(($0["body"] as? String ?? "").utf8)) as? [String: Any] }
            .filter { ($0["title"] as? String)?.hasPrefix("Reminder") == false }
        let changes = payloads.compactMap { $0["change"] as? String }
        #expect(Set(changes).count == changes.count, "each change's notification once: \(payloads)")
        #expect(Set(changes).isSuperset(of: ["plant-a-2", "plant-a-3", "plant-a-4"]), "\(changes)")
    }
}
