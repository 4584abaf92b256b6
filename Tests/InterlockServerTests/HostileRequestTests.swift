import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InterlockEngine
import InterlockModel
import InterlockStore
import Testing
@testable import InterlockServer

/// What a stranger can send costs a bounded amount: bodies past the limit are 413, repeated failures are counted
/// rather than recorded one by one (the first and the lock events stay), and exported text never runs as a formula.
@Suite struct HostileRequestTests {
    @Test func aBodyOverTheLimitIs413NotAServerError() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let anna = try await client.signIn("mgr-plant-a")
            let big = String(repeating: "x", count: 10 * 1024 * 1024)
            let (status, body) = try await client.json(
                "/api/v1/changes/plant-a-1/approve", method: .post,
                headers: [.cookie: anna.cookie, HTTPField.Name("X-CSRF-Token")!: anna.csrf],
                body: #"{"password": "anna-secret-1", "reason": "\#(big)"}"#)
            #expect(status == .contentTooLarge)
            let message = ((body as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
            #expect(message?.contains("at most 65536") == true, "\(String(describing: message))")
            let form = try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                body: ByteBuffer(string: "username=" + big))
            #expect(form.status == .contentTooLarge)
        }
        #expect(try fixture.instance.store.change(id: "plant-a-1")?.approvals.isEmpty == true)
    }

    @Test func twoHundredBogusTokensWriteOneRecordAndACountOfTheRest() async throws {
        let fixture = try ServerFixture()
        let before = try fixture.instance.store.count()
        try await fixture.app.test(.router) { client in
            for index in 0..<200 {
                let (status, _) = try await client.json("/api/v1/queue", token: "ilk_bogus-\(index)")
                #expect(status == .unauthorized)
            }
        }
        let refused = try fixture.records("token.refused")
        #expect(refused.count == 1, "the first bogus token is recorded")
        #expect(try fixture.instance.store.count() - before == 1)
        // A window later, the count of the other 199 is recorded with the next failure.
        let (decision, due) = fixture.server.failures.note(action: "token.refused", subject: "api-token@" + (refused.first?.details["remoteAddress"] ?? ""),
                                                           address: "", now: Date().addingTimeInterval(fixture.server.failures.window + 61))
        #expect(decision == .record)
        #expect(due.first?.count == 199)
    }

    @Test func repeatedFailedSignInsAreCountedButTheLockIsRecorded() async throws {
        let fixture = try ServerFixture(maximumFailures: 3)
        try await fixture.app.test(.router) { client in
            for _ in 0..<6 { _ = try? await client.signIn("mgr-plant-a", password: "wrong") }
        }
        #expect(try fixture.records("login.failed").count == 2, "the first wrong password, and the first refusal while locked")
        #expect(try fixture.records("login.locked").count == 1)
    }

    @Test func anUnknownUserIsCheckedAgainstADecoyAsSlowAsTheConfiguredHashes() throws {
        let fixture = try ServerFixture()
        let configured = fixture.instance.configuration.users.compactMap { $0.passwordHash.flatMap { try? PasswordHash(parsing: $0) }?.iterations }
        #expect(fixture.server.decoy.iterations == configured.max())
    }

    @Test func exportedCellsNeverRunAsFormulas() async throws {
        let fixture = try ServerFixture()
        try fixture.instance.store.record([AuditEvent(
            actor: Person(id: "=HYPERLINK(\"http://evil\",\"x\")", name: "+cmd|' /C calc'!A0"), role: "unauthenticated", authentication: "none",
            category: .access, action: "login.failed", reason: " =1+1", success: false, error: "-2+3", details: ["note": "@SUM(A1)"])])
        try await fixture.app.test(.router) { client in
            let export = try await client.execute(uri: "/api/v1/audit/export?format=csv", method: .get,
                                                  headers: [.authorization: "Bearer " + ServerFixture.tokens["audit-office"]!])
            #expect(export.status == .ok)
            let text = String(buffer: export.body)
            #expect(text.contains("'=HYPERLINK"))
            #expect(!text.contains(",=HYPERLINK") && !text.contains("\"=HYPERLINK"))
            #expect(text.contains("'+cmd"))
            #expect(text.contains("'-2+3"))
            #expect(text.contains("' =1+1"), "a leading blank does not hide a formula")
        }
    }
}
