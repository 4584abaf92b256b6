import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InterlockEngine
import InterlockServer
import InterlockStore
import Testing

@Suite("HTTP API and console, in-process")
struct RouterTests {
    @Test func healthAndReadinessAreOpenAndCarrySecurityHeaders() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(health.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(health.headers[.contentSecurityPolicy]?.contains("unsafe-inline") == false)
            #expect(health.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(health.headers[.cacheControl] == "no-store")
            #expect(health.headers[.xContentTypeOptions] == "nosniff")
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            let css = try await client.execute(uri: "/static/console.css", method: .get)
            #expect(css.status == .ok)
            #expect(css.headers[.contentType]?.hasPrefix("text/css") == true)
        }
    }

    @Test func unauthenticatedRequestsGet401OrTheSignInPage() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            for path in ["/api/v1/queue", "/api/v1/sites", "/api/v1/changes/plant-a-1", "/api/v1/audit", "/metrics", "/api/v1/me"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .unauthorized, "\(path)")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            let post = try await client.execute(uri: "/api/v1/changes/plant-a-1/approve", method: .post, body: ByteBuffer(string: "{}"))
            #expect(post.status == .unauthorized)
            for path in ["/sites", "/queue", "/changes/plant-a-1", "/audit"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location]?.hasPrefix("/login?next=") == true)
            }
            let login = try await client.execute(uri: "/login", method: .get)
            #expect(login.status == .ok)
            #expect(login.headers[values: .setCookie].contains { $0.contains("HttpOnly") && $0.contains("SameSite=Strict") })
        }
    }

    @Test func signingInSetsAStrictHttpOnlySessionCookieAndIsAudited() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let page = try await client.execute(uri: "/login", method: .get)
            let loginCookie = Form.cookie("interlock_login_csrf", in: page.headers)!
            let token = Form.hidden("csrf", in: String(buffer: page.body))!
            var headers = Form.headers
            headers[.cookie] = loginCookie
            let response = try await client.execute(uri: "/login", method: .post, headers: headers,
                                                    body: Form.encode(["csrf": token, "username": "mgr-plant-a", "password": "anna-secret-1", "next": "/queue"]))
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/queue")
            let cookie = response.headers[values: .setCookie].first { $0.hasPrefix("interlock_session=") }
            #expect(cookie?.contains("HttpOnly") == true)
            #expect(cookie?.contains("SameSite=Strict") == true)
            let me = try await client.json("/api/v1/me", headers: [.cookie: Form.cookie("interlock_session", in: response.headers)!])
            #expect(me.0 == .ok)
            #expect((me.1 as? [String: Any])?["id"] as? String == "mgr-plant-a")
        }
        #expect(try fixture.records("login.succeeded").map(\.actor.id) == ["mgr-plant-a"])
    }

    @Test func signInWithoutTheFormTokenIsRefused() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let response = try await client.execute(uri: "/login", method: .post, headers: Form.headers,
                                                    body: Form.encode(["username": "mgr-plant-a", "password": "anna-secret-1"]))
            #expect(response.status == .forbidden)
            #expect(Form.cookie("interlock_session", in: response.headers) == nil)
        }
        #expect(try fixture.records("login.failed").count == 1)
    }

    @Test func repeatedFailedSignInsLockTheAccountAndTheFirstFailuresAreAudited() async throws {
        let fixture = try ServerFixture(maximumFailures: 3)
        try await fixture.app.test(.router) { client in
            for _ in 0..<3 {
                await #expect(throws: (any Error).self) { try await client.signIn("mgr-plant-a", password: "wrong-password") }
            }
            // The right password does not help while the account is locked.
            await #expect(throws: (any Error).self) { try await client.signIn("mgr-plant-a") }
            let page = try await client.execute(uri: "/login", method: .get)
            var headers = Form.headers
            headers[.cookie] = Form.cookie("interlock_login_csrf", in: page.headers)!
            let locked = try await client.execute(uri: "/login", method: .post, headers: headers, body: Form.encode([
                "csrf": Form.hidden("csrf", in: String(buffer: page.body))!, "username": "mgr-plant-a", "password": "anna-secret-1"]))
            #expect(locked.status == .tooManyRequests)
            // Another account is not affected.
            _ = try await client.signIn("mgr-plant-b")
        }
        let failed = try fixture.records("login.failed")
        // The first wrong password and the first attempt while locked are recorded; the repeats are counted.
        #expect(failed.count == 2)
        #expect(failed.allSatisfy { $0.result == .failure && $0.details["remoteAddress"] != nil })
        #expect(try fixture.records("login.locked").map(\.actor.id) == ["mgr-plant-a"])
    }

    @Test func theRolloutPageShowsEachWaveAndWhatPlantBWaitsFor() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let browser = try await client.signIn("mgr-plant-b")
            let page = try await client.execute(uri: "/rollout", method: .get, headers: browser.headers)
            #expect(page.status == .ok)
            let html = String(buffer: page.body)
            #expect(html.contains("wave pilot") && html.contains("wave fleet"))
            #expect(html.contains("href=\"/changes/plant-b-1\""))
            #expect(html.contains("plant-b-1 waiting for approval: 0 of 2"), "each site says what it waits for")
            #expect(html.contains("aria-current=\"page\">Rollout"))
        }
    }

    @Test func aCarriedSignatureNamesWhereItWasGivenAndTheReplacedChangeLinksItsSuccessor() async throws {
        let fixture = try ServerFixture()
        let store = fixture.instance.store
        let first = try #require(try store.change(id: "plant-a-1"))
        let anna = Person(id: "mgr-plant-a", name: "Anna Berger", email: "anna.berger@example.com")
        _ = try store.approve(changeID: first.id, approval: Approval(approver: anna, role: "plant manager", meaning: "approved as plant manager of plant-a",
                                                                   reason: "reviewed", planID: first.plan.id, at: Date()),
                              events: [AuditEvent(actor: anna, role: "plant manager", authentication: "local-password", category: .approval,
                                                  action: "change.approved", site: "plant-a", changeID: first.id, planID: first.plan.id, reason: "reviewed")])
        let signed = try #require(try store.change(id: "plant-a-1"))
        let plan = signed.plan
        let again = Plan(site: plan.site, commit: String(repeating: "2", count: 40), liveFingerprint: plan.liveFingerprint,
                         desiredFingerprint: plan.desiredFingerprint, operations: plan.operations, drift: plan.drift)
        let carry = ApprovalCarry(fromChangeID: signed.id, fromPlanID: signed.plan.id, refusals: [:], users: ["mgr-plant-a"])
        let second = try store.enqueue(NewChange(site: "plant-a", plan: again, gate: signed.gate, author: nil, commitSummary: "Plant B only",
                                                 ruleChanges: signed.ruleChanges, carry: carry), events: [])
        try await fixture.app.test(.router) { client in
            let browser = try await client.signIn("mgr-plant-a")
            let new = String(buffer: try await client.execute(uri: "/changes/\(second.change.id)", method: .get, headers: browser.headers).body)
            #expect(new.contains("signed on <a href=\"/changes/plant-a-1\">plant-a-1</a>") && new.contains("carried over: only the commit differs"), "\(new)")
            #expect(new.contains("<td class=\"authentication\">local-password</td>"), "authenticated on the change it was given on")
            let old = String(buffer: try await client.execute(uri: "/changes/plant-a-1", method: .get, headers: browser.headers).body)
            #expect(old.contains("Replaced by <a href=\"/changes/\(second.change.id)\">") && old.contains("The signatures of Anna Berger carried over"), "\(old)")
        }
    }

    @Test func theChangePageHasThePlanBeforeTheSignFormAndTellsTheWholeStoryWithLinksToEachRecord() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let anna = try await client.signIn("mgr-plant-a")
            let page = String(buffer: try await client.execute(uri: "/changes/plant-a-1", method: .get, headers: anna.headers).body)
            let plan = try #require(page.range(of: "id=\"plan\"")), sign = try #require(page.range(of: "id=\"sign\""))
            #expect(plan.lowerBound < sign.lowerBound, "one reads the plan before the form to sign it")
            #expect(page.contains("id=\"timeline\"") && page.contains("<strong>change.queued</strong>"), "the change's story")
            #expect(!page.contains("href=\"/audit/records/"), "a plant manager does not read the audit log: record numbers, no links")
            #expect(page.contains("Head of the audit chain") && page.contains("Skip to the content"))
            #expect(page.contains("<svg class=\"flow-picture\"") && page.contains("class=\"brick added\"") && !page.contains("class=\"brick removed\""),
                    "a first deployment draws every flow's bricks as added")

            let auditor = try await client.signIn("audit-office")
            let story = String(buffer: try await client.execute(uri: "/changes/plant-a-1", method: .get, headers: auditor.headers).body)
            let link = try #require(story.range(of: "href=\"/audit/records/"))
            let sequence = story[link.upperBound...].prefix { $0.isNumber }
            let record = try await client.execute(uri: "/audit/records/\(sequence)", method: .get, headers: auditor.headers)
            #expect(record.status == .ok)
            let html = String(buffer: record.body)
            #expect(html.contains("Audit record \(sequence)") && html.contains("matches its content") && html.contains("href=\"/changes/plant-a-1\""), "\(html)")
            #expect(try await client.execute(uri: "/audit/records/999999", method: .get, headers: auditor.headers).status == .notFound)
            #expect(try await client.execute(uri: "/audit/records/x", method: .get, headers: auditor.headers).status == .notFound)
            #expect(try await client.execute(uri: "/audit/records/\(sequence)", method: .get, headers: anna.headers).status == .forbidden)
            let list = String(buffer: try await client.execute(uri: "/audit", method: .get, headers: auditor.headers).body)
            #expect(list.contains("<a href=\"/audit/records/1\">1</a>") && list.contains("<a href=\"/changes/plant-a-1\">plant-a-1</a>"))
        }
    }

    @Test func theAuthorOfACommitIsToldWhyTheyCannotApproveIt() async throws {
        let fixture = try ServerFixture()
        // Anna writes a Plant A commit; the pass queues it as plant-a-2.
        let site = fixture.repo + "/sites/plant-a/site.yaml"
        try String(contentsOfFile: site, encoding: .utf8).replacingOccurrences(of: "opcua_port: 4840", with: "opcua_port: 4841")
            .write(toFile: site, atomically: true, encoding: .utf8)
        try ServerFixture.git(["commit", "-qam", "OPC UA port 4841", "--author=Anna Berger <mgr-plant-a@example.com>"], in: fixture.repo)
        fixture.loop.pass()
        let change = try #require(try fixture.instance.store.changes(sites: ["plant-a"], statuses: ChangeStatus.active, limit: nil).first)
        try await fixture.app.test(.router) { client in
            let anna = try await client.signIn("mgr-plant-a")
            let page = String(buffer: try await client.execute(uri: "/changes/\(change.id)", method: .get, headers: anna.headers).body)
            #expect(!page.contains("id=\"approve-form\""))
            #expect(page.contains("You wrote commit") && page.contains("another approver must sign"), "\(page)")
        }
    }

    @Test func aRolloutOwnerSkipsTheWavesFromTheConsoleWithPasswordAndReasonAndOthersCannot() async throws {
        let fixture = try ServerFixture()
        let commit = try #require(try fixture.instance.store.change(id: "plant-b-1")?.plan.commit)
        try await fixture.app.test(.router) { client in
            // A plant manager of Plant A only does not decide for Plant B's wave: no form, and a forged POST is refused.
            let anna = try await client.signIn("mgr-plant-a")
            let annaPage = String(buffer: try await client.execute(uri: "/rollout", method: .get, headers: anna.headers).body)
            #expect(!annaPage.contains("/rollout/\(commit)/skip"))
            var (headers, body) = anna.form(["csrf": anna.csrf, "reason": "forged", "password": ServerFixture.passwords["mgr-plant-a"]!])
            let forged = try await client.execute(uri: "/rollout/\(commit)/skip", method: .post, headers: headers, body: body)
            #expect(forged.status == .forbidden && String(buffer: forged.body).contains("may not override rollouts"))

            let ops = try await client.signIn("ops")
            let page = String(buffer: try await client.execute(uri: "/rollout", method: .get, headers: ops.headers).body)
            #expect(page.contains("action=\"/rollout/\(commit)/skip\"") && page.contains("class=\"pipeline\""), "\(page)")
            (headers, body) = ops.form(["csrf": ops.csrf, "reason": "pilot plant shut down for the week", "password": "wrong"])
            let wrong = try await client.execute(uri: "/rollout/\(commit)/skip", method: .post, headers: headers, body: body)
            #expect(wrong.status == .forbidden && String(buffer: wrong.body).contains("does not match"))
            (headers, body) = ops.form(["csrf": ops.csrf, "reason": "", "password": ServerFixture.passwords["ops"]!])
            #expect(try await client.execute(uri: "/rollout/\(commit)/skip", method: .post, headers: headers, body: body).status == .badRequest)
            (headers, body) = ops.form(["reason": "no token", "password": ServerFixture.passwords["ops"]!])
            #expect(try await client.execute(uri: "/rollout/\(commit)/skip", method: .post, headers: headers, body: body).status == .forbidden)
            (headers, body) = ops.form(["csrf": ops.csrf, "reason": "pilot plant shut down for the week", "password": ServerFixture.passwords["ops"]!])
            let done = try await client.execute(uri: "/rollout/\(commit.prefix(10))/skip", method: .post, headers: headers, body: body)
            #expect(done.status == .ok && String(buffer: done.body).contains("skip recorded for IT operations"), "\(String(buffer: done.body))")
        }
        let skip = try #require(try fixture.records("rollout.skip").first)
        #expect(skip.actor.id == "ops" && skip.actor.authentication == "local-password" && skip.commit == commit && skip.reason == "pilot plant shut down for the week")
        #expect(try fixture.records("rollout.skip.refused").count >= 3, "the plant manager, the wrong password and the missing reason are recorded")
    }

    @Test func plantAManagerSeesTheApproveFormForPlantAButNotForPlantB() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let browser = try await client.signIn("mgr-plant-a")
            let a = String(buffer: try await client.execute(uri: "/changes/plant-a-1", method: .get, headers: browser.headers).body)
            #expect(a.contains("id=\"approve-form\""))
            #expect(a.contains("approved as plant manager of plant-a"))
            #expect(a.contains("id=\"gates\""))
            let b = try await client.execute(uri: "/changes/plant-b-1", method: .get, headers: browser.headers)
            #expect(b.status == .ok)
            let html = String(buffer: b.body)
            #expect(!html.contains("approve-form"))
            #expect(!html.contains("/changes/plant-b-1/approve"))
            #expect(html.contains("You do not sign changes for plant-b"))
            let queue = String(buffer: try await client.execute(uri: "/queue", method: .get, headers: browser.headers).body)
            #expect(queue.contains("plant-a-1") && queue.contains("plant-b-1"))
            let sites = String(buffer: try await client.execute(uri: "/sites", method: .get, headers: browser.headers).body)
            #expect(sites.contains("Plant A") && sites.contains("Plant B") && sites.contains("Europe/Berlin"))
        }
    }

    @Test func approvingInTheConsoleNeedsTheFormTokenAndThePassword() async throws {
        let fixture = try ServerFixture()
        let plan = try #require(try fixture.instance.store.change(id: "plant-a-1")).plan.id
        try await fixture.app.test(.router) { client in
            let browser = try await client.signIn("mgr-plant-a")
            var (headers, body) = browser.form(["plan": plan, "reason": "first deployment reviewed", "password": "anna-secret-1"])
            let noToken = try await client.execute(uri: "/changes/plant-a-1/approve", method: .post, headers: headers, body: body)
            #expect(noToken.status == .forbidden)
            (headers, body) = browser.form(["csrf": browser.csrf, "plan": plan, "reason": "first deployment reviewed", "password": "not-my-password"])
            let wrongPassword = try await client.execute(uri: "/changes/plant-a-1/approve", method: .post, headers: headers, body: body)
            #expect(wrongPassword.status == .forbidden)
            #expect(String(buffer: wrongPassword.body).contains("the password does not match"))
            #expect(String(buffer: wrongPassword.body).contains(">first deployment reviewed</textarea>"), "the typed reason survives a wrong password")
            #expect(!String(buffer: wrongPassword.body).contains("not-my-password"), "the password never comes back")
            (headers, body) = browser.form(["csrf": browser.csrf, "plan": plan, "reason": "", "password": "anna-secret-1"])
            let noReason = try await client.execute(uri: "/changes/plant-a-1/approve", method: .post, headers: headers, body: body)
            #expect(noReason.status == .badRequest)
            (headers, body) = browser.form(["csrf": browser.csrf, "plan": plan, "reason": "first deployment reviewed", "password": "anna-secret-1"])
            let signed = try await client.execute(uri: "/changes/plant-a-1/approve", method: .post, headers: headers, body: body)
            #expect(signed.status == .seeOther)
            #expect(signed.headers[.location] == "/changes/plant-a-1?signed=approve")
            let page = String(buffer: try await client.execute(uri: "/changes/plant-a-1?signed=approve", method: .get, headers: browser.headers).body)
            #expect(page.contains("Your approval was signed"))
            #expect(page.contains("You have signed this plan."))
        }
        let change = try #require(try fixture.instance.store.change(id: "plant-a-1"))
        #expect(change.approvers == ["mgr-plant-a"])
        let approval = try #require(try fixture.records("change.approved").first)
        #expect(approval.actor.name == "Anna Berger")
        #expect(approval.actor.authentication == "local-password")
        #expect(approval.details["meaning"] == "approved as plant manager of plant-a")
        #expect(approval.details["printedName"] == "Anna Berger")
        #expect(approval.reason == "first deployment reviewed")
        #expect(approval.planID == plan)
        #expect(try fixture.records("access.denied").count == 1)
        #expect(try fixture.records("approve.refused").map(\.error) == ["the password does not match: the signature was not made"])
    }

    @Test func aPlantAApproverCannotApproveAPlantBChangeThroughTheAPI() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let anna = try await client.signIn("mgr-plant-a")
            let (status, body) = try await client.json(
                "/api/v1/changes/plant-b-1/approve", method: .post,
                headers: [.cookie: anna.cookie, HTTPField.Name("X-CSRF-Token")!: anna.csrf],
                body: #"{"password": "anna-secret-1", "reason": "looks fine"}"#)
            #expect(status == .forbidden)
            let message = ((body as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
            #expect(message?.contains("does not approve for plant-b") == true)
            let detail = try await client.json("/api/v1/changes/plant-b-1", token: ServerFixture.tokens["mgr-plant-a"])
            #expect((detail.1 as? [String: Any])?["mayApprove"] as? Bool == false)
        }
        let refused = try #require(try fixture.records("approve.refused").first)
        #expect(refused.actor.id == "mgr-plant-a")
        #expect(refused.site == "plant-b")
        #expect(refused.changeID == "plant-b-1")
        #expect(try fixture.instance.store.change(id: "plant-b-1")?.approvals.isEmpty == true)
    }

    @Test func apiTokensNeverSignEvenWithTheRightPassword() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let (status, body) = try await client.json(
                "/api/v1/changes/plant-a-1/approve", method: .post, token: ServerFixture.tokens["mgr-plant-a"],
                body: #"{"password": "anna-secret-1", "reason": "looks fine"}"#)
            #expect(status == .forbidden)
            let message = ((body as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
            #expect(message?.contains("API tokens never sign") == true, "\(String(describing: message))")
        }
        let refused = try #require(try fixture.records("approve.refused").first)
        #expect(refused.actor.authentication == "api-token")
        #expect(try fixture.instance.store.change(id: "plant-a-1")?.approvals.isEmpty == true)
    }

    @Test func anEmptyOrShortReviewedPlanIdIsRefused() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let anna = try await client.signIn("mgr-plant-a")
            for plan in ["", "sha256:", "abc"] {
                let (status, body) = try await client.json(
                    "/api/v1/changes/plant-a-1/approve", method: .post,
                    headers: [.cookie: anna.cookie, HTTPField.Name("X-CSRF-Token")!: anna.csrf],
                    body: #"{"password": "anna-secret-1", "reason": "looks fine", "plan": "\#(plan)"}"#)
                #expect(status == .badRequest, "plan '\(plan)'")
                let message = ((body as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
                #expect(message?.contains("at least the 12 hex digits") == true)
            }
        }
        #expect(try fixture.instance.store.change(id: "plant-a-1")?.approvals.isEmpty == true)
        #expect(try fixture.records("approve.refused").count == 3)
    }

    @Test func plantBNeedsTwoSignaturesAndARejectionEndsTheChange() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let maria = try await client.signIn("mgr-plant-b")
            let apiHeaders: HTTPFields = [.cookie: maria.cookie, HTTPField.Name("X-CSRF-Token")!: maria.csrf]
            let approved = try await client.json("/api/v1/changes/plant-b-1/approve", method: .post, headers: apiHeaders,
                                                 body: #"{"password": "maria-secret-1", "reason": "reviewed with the OT lead"}"#)
            #expect(approved.0 == .ok)
            let gates = ((approved.1 as? [String: Any])?["gates"] as? [String: Any])
            #expect(gates?["requiredApprovals"] as? Int == 2)
            let again = try await client.json("/api/v1/changes/plant-b-1/approve", method: .post, headers: apiHeaders,
                                              body: #"{"password": "maria-secret-1", "reason": "twice"}"#)
            #expect(again.0 == .conflict)
            let noCSRF = try await client.json("/api/v1/changes/plant-b-1/reject", method: .post, headers: [.cookie: maria.cookie],
                                               body: #"{"password": "maria-secret-1", "reason": "x"}"#)
            #expect(noCSRF.0 == .forbidden)
            let darnell = try await client.signIn("ot-lead-plant-b")
            let (headers, body) = darnell.form(["csrf": darnell.csrf, "reason": "the broker change needs a test first", "password": "darnell-secret-1"])
            let rejected = try await client.execute(uri: "/changes/plant-b-1/reject", method: .post, headers: headers, body: body)
            #expect(rejected.status == .seeOther)
        }
        let change = try #require(try fixture.instance.store.change(id: "plant-b-1"))
        #expect(change.status == .rejected)
        #expect(change.statusReason?.contains("Darnell Hayes") == true)
        #expect(try fixture.records("change.rejected").first?.details["meaning"] == "rejected as OT lead of plant-b")
    }

    @Test func apiTokensAuthenticateMachinesAndWrongTokensAreAudited() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let bad = try await client.json("/api/v1/queue", token: "ilk_not-a-token")
            #expect(bad.0 == .unauthorized)
            let queue = try await client.json("/api/v1/queue", token: ServerFixture.tokens["viewer"])
            #expect(queue.0 == .ok)
            let changes = (queue.1 as? [String: Any])?["changes"] as? [[String: Any]]
            #expect(Set(changes?.compactMap { $0["id"] as? String } ?? []) == ["plant-a-1", "plant-b-1"])
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer " + ServerFixture.tokens["viewer"]!])
            #expect(metrics.status == .ok)
            let text = String(buffer: metrics.body)
            #expect(text.contains(#"interlock_changes{site="plant-a",status="waiting"} 1"#))
            #expect(text.contains("interlock_audit_log_records"))
            #expect(text.contains("interlock_last_successful_reconcile_timestamp_seconds{site=\"plant-b\"}"))
            #expect(text.contains("interlock_drifted_resources{site=\"plant-a\"} 0"))
            #expect(text.contains("interlock_audit_verify_ok 1"))
        }
        #expect(try fixture.records("token.refused").count == 1)
    }

    @Test func onlyAuditorsOperatorsAndAdminsReadTheAuditLog() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let viewer = try await client.json("/api/v1/audit", token: ServerFixture.tokens["viewer"])
            #expect(viewer.0 == .forbidden)
            let manager = try await client.signIn("mgr-plant-a")
            let page = try await client.execute(uri: "/audit", method: .get, headers: manager.headers)
            #expect(page.status == .forbidden)
            #expect(String(buffer: page.body).contains("Not allowed"))
            let audit = try await client.json("/api/v1/audit?site=plant-a&limit=5", token: ServerFixture.tokens["audit-office"])
            #expect(audit.0 == .ok)
            let records = (audit.1 as? [String: Any])?["records"] as? [[String: Any]]
            #expect(records?.isEmpty == false)
            #expect(records?.allSatisfy { $0["site"] as? String == "plant-a" } == true)
            let csv = try await client.execute(uri: "/api/v1/audit/export?format=csv", method: .get,
                                               headers: [.authorization: "Bearer " + ServerFixture.tokens["audit-office"]!])
            #expect(csv.status == .ok)
            #expect(String(buffer: csv.body).hasPrefix("type,sequence,id,timestamp"))
            #expect(csv.headers[.contentDisposition]?.contains("attachment") == true)
            let verify = try await client.json("/api/v1/audit/verify", token: ServerFixture.tokens["audit-office"])
            #expect((verify.1 as? [String: Any])?["ok"] as? Bool == true)
            let auditor = try await client.signIn("audit-office")
            let html = String(buffer: try await client.execute(uri: "/audit?action=change.*", method: .get, headers: auditor.headers).body)
            #expect(html.contains("id=\"export-csv\""))
            #expect(html.contains("verified"))
        }
        #expect(try fixture.records("access.denied").count == 2)
        #expect(try fixture.records("audit.exported").first?.actor.id == "audit-office")
    }

    @Test func unknownPagesAndChangesAnswer404() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let browser = try await client.signIn("viewer")
            let page = try await client.execute(uri: "/changes/plant-z-9", method: .get, headers: browser.headers)
            #expect(page.status == .notFound)
            #expect(String(buffer: page.body).contains("there is no change plant-z-9"))
            let api = try await client.json("/api/v1/changes/plant-z-9", token: ServerFixture.tokens["viewer"])
            #expect(api.0 == .notFound)
            let nowhere = try await client.execute(uri: "/no/such/page", method: .get, headers: browser.headers)
            #expect(nowhere.status == .notFound)
        }
    }

    @Test func onlyOperatorsTriggerAReconcilePass() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let viewer = try await client.json("/api/v1/reconcile", method: .post, token: ServerFixture.tokens["viewer"], body: "{}")
            #expect(viewer.0 == .forbidden)
            let ops = try await client.signIn("ops")
            let triggered = try await client.json("/api/v1/reconcile", method: .post,
                                                  headers: [.cookie: ops.cookie, HTTPField.Name("X-CSRF-Token")!: ops.csrf], body: "{}")
            #expect(triggered.0 == .accepted)
        }
    }

    @Test func signingOutEndsTheSession() async throws {
        let fixture = try ServerFixture()
        try await fixture.app.test(.router) { client in
            let browser = try await client.signIn("viewer")
            let (headers, body) = browser.form(["csrf": browser.csrf])
            let out = try await client.execute(uri: "/logout", method: .post, headers: headers, body: body)
            #expect(out.status == .seeOther)
            let after = try await client.execute(uri: "/sites", method: .get, headers: browser.headers)
            #expect(after.status == .seeOther)
        }
    }

    /// Behind a load balancer without stickiness: a session started on one replica works on another, signing out on
    /// the second ends it on the first, and the database holds only a hash of the cookie.
    @Test func aSessionIsSharedByEveryReplicaOfTheStateDatabase() async throws {
        let fixture = try ServerFixture()
        let other = Application(router: try fixture.replica().makeRouter())
        let session = try await fixture.app.test(.router) { client in try await client.signIn("mgr-plant-a") }
        let cookieValue = String(try #require(session.cookie.split(separator: "=", maxSplits: 1).last))
        let sessions = try #require(fixture.instance.store as? any ConsoleSessionStore)
        #expect(try sessions.session(key: cookieValue) == nil, "the cookie's value is not stored")
        #expect(try sessions.session(key: SHA256Hex.of(cookieValue))?.userID == "mgr-plant-a")

        // A replica whose configuration gives Anna a new password: her session from before the change has ended there.
        var changed = fixture.instance.configuration
        let index = try #require(changed.users.firstIndex { $0.id == "mgr-plant-a" })
        changed.users[index].passwordHash = PasswordHash(password: "anna-new-secret", salt: Array("salt-2".utf8), iterations: 1000).description
        try await Application(router: try fixture.replica(configuration: changed).makeRouter()).test(.router) { client in
            let sites = try await client.execute(uri: "/sites", method: .get, headers: session.headers)
            #expect(sites.status == .seeOther, "a session started with the old password")
        }

        try await other.test(.router) { client in
            let sites = try await client.execute(uri: "/sites", method: .get, headers: session.headers)
            #expect(sites.status == .ok)
            #expect(String(buffer: sites.body).contains("Anna Berger"))
            // The form token is the same on both replicas: a form from one is accepted by the other.
            let (headers, body) = session.form(["csrf": session.csrf])
            let out = try await client.execute(uri: "/logout", method: .post, headers: headers, body: body)
            #expect(out.status == .seeOther)
        }
        try await fixture.app.test(.router) { client in
            let after = try await client.execute(uri: "/sites", method: .get, headers: session.headers)
            #expect(after.status == .seeOther, "signed out on one replica: signed out on all")
            #expect(after.headers[.location]?.hasPrefix("/login") == true)
        }
        #expect(try fixture.records("logout").count == 1)
    }
}

@Suite("Console sessions")
struct SessionStoreTests {
    /// The same rules in the database as in memory: idle for longer than `idleTimeout` or older than `lifetime` ends a
    /// session; the last request is written back at most every `touchInterval`; a malformed id is never looked up.
    @Test func aSessionEndsWhenIdleOrOldWhereverItIsKept() throws {
        let fixture = try ServerFixture()
        let database = try #require(fixture.instance.store as? any ConsoleSessionStore)
        for backing in [database, nil] {
            let sessions = SessionStore(idleTimeout: 60, lifetime: 300, touchInterval: 10, backing: backing)
            let t = Date(timeIntervalSince1970: 1_800_000_000)
            let long = try sessions.create(userID: "viewer", credential: "c", now: t)
            #expect(long.id.count == 43 && long.csrfToken.count == 43)
            #expect(try sessions.session(id: long.id, now: t.addingTimeInterval(5))?.userID == "viewer")
            if backing != nil {
                #expect(try database.session(key: SHA256Hex.of(long.id))?.lastSeen == t, "5 s later: not written back yet")
            }
            for step in stride(from: 55.0, through: 275, by: 55) {
                #expect(try sessions.session(id: long.id, now: t.addingTimeInterval(step)) != nil, "active every 55 s: alive at \(step) s")
            }
            if backing != nil {
                #expect(try database.session(key: SHA256Hex.of(long.id))?.lastSeen == t.addingTimeInterval(275))
            }
            #expect(try sessions.session(id: long.id, now: t.addingTimeInterval(301)) == nil, "older than its lifetime")
            #expect(try sessions.session(id: long.id, now: t.addingTimeInterval(302)) == nil)

            let idle = try sessions.create(userID: "viewer", credential: "c", now: t)
            #expect(try sessions.session(id: idle.id, now: t.addingTimeInterval(61)) == nil, "idle for longer than a minute")
            if backing != nil { #expect(try database.session(key: SHA256Hex.of(idle.id)) == nil, "and gone from the database") }

            let ended = try sessions.create(userID: "viewer", credential: "c", now: t)
            try sessions.end(id: ended.id)
            #expect(try sessions.session(id: ended.id, now: t) == nil)
            for forged in ["", "x", String(repeating: "A", count: 44), String(repeating: "%", count: 43), String(repeating: "A", count: 100_000)] {
                #expect(try sessions.session(id: forged, now: t) == nil)
            }
        }
    }
}

enum SHA256Hex {
    static func of(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

@Suite("Password hashes and tokens")
struct CredentialTests {
    /// RFC 7914 §11: PBKDF2-HMAC-SHA256 test vectors.
    @Test func pbkdf2MatchesTheRFC7914Vectors() {
        let one = PasswordHash.derive(password: "passwd", salt: Array("salt".utf8), iterations: 1, length: 64)
        #expect(one.map { String(format: "%02x", $0) }.joined()
            == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
        let many = PasswordHash.derive(password: "Password", salt: Array("NaCl".utf8), iterations: 80000, length: 64)
        #expect(many.map { String(format: "%02x", $0) }.joined()
            == "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d")
    }

    @Test func storedHashesRoundTripAndRejectOtherPasswords() throws {
        let hash = PasswordHash(password: "correct horse", iterations: 1000)
        let parsed = try PasswordHash(parsing: hash.description)
        #expect(parsed.matches("correct horse"))
        #expect(!parsed.matches("correct horse "))
        #expect(hash.description.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(throws: PasswordHash.FormatError.self) { try PasswordHash(parsing: "sha1$1$abc$def") }
        #expect(throws: PasswordHash.FormatError.self) { try PasswordHash(parsing: "pbkdf2-sha256$10$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAA==") }
    }

    @Test func tokensAreRandomAndStoredOnlyAsHashes() {
        let a = APIToken.generate()
        let b = APIToken.generate()
        #expect(a != b)
        #expect(a.hasPrefix("ilk_") && a.count == 47)
        #expect(APIToken.hash(a).hasPrefix("sha256:") && APIToken.hash(a).count == 71)
    }
}

@Suite("serve options")
struct ServeOptionTests {
    @Test func addressesParseAsHostAndPort() {
        #expect(ServeRunner.parseAddress("127.0.0.1:8080")! == ("127.0.0.1", 8080))
        #expect(ServeRunner.parseAddress(":9000")! == ("0.0.0.0", 9000))
        #expect(ServeRunner.parseAddress("[::1]:8443")! == ("::1", 8443))
        #expect(ServeRunner.parseAddress("localhost") == nil)
        #expect(ServeRunner.parseAddress("host:99999") == nil)
    }
}
