import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore
import Testing
@testable import InterlockServer

/// What the console says of a site reached through its agent: online while the agent is in contact, offline after
/// three of the longest polls of silence, and a change the agent had started shown as "unknown" while it is silent —
/// never as applied or failed, which only the agent's report can say.
@Suite struct AgentPresenceTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func certificate(_ serial: String, site: String = "plant-a", contact: TimeInterval?, revoked: Bool = false) -> AgentCertificate {
        AgentCertificate(serial: serial, site: site, enrolmentID: "enr-1", fingerprint: "sha256:" + serial, keyFingerprint: "k", notBefore: now.addingTimeInterval(-86400),
                         notAfter: now.addingTimeInterval(86400), pem: "", issuedAt: now.addingTimeInterval(-86400), revokedAt: revoked ? now : nil,
                         lastContact: contact.map { now.addingTimeInterval(-$0) })
    }

    func change(_ status: ChangeStatus) -> ChangeRequest {
        let plan = Plan(site: "plant-a", commit: nil, liveFingerprint: "sha256:0", desiredFingerprint: "sha256:1", operations: [], drift: [])
        return ChangeRequest(id: "plant-a-2", site: "plant-a", plan: plan, gate: .approval, status: status, author: nil, commitSummary: nil,
                             createdAt: now, updatedAt: now, commits: [])
    }

    @Test func anAgentIsOnlineUntilSilentForThreePollsAndItsStartedChangeIsThenUnknown() {
        let online = AgentPresence.of(site: "plant-a", certificates: [certificate("a1", contact: 20)], now: now)
        #expect(online.state == .online && online.serial == "a1")
        #expect(online.text(now: now).hasPrefix("agent online — last contact 20 s ago"))
        #expect(online.displayStatus(of: change(.applying)) == nil, "an agent in contact is applying: the record says so")

        let silent = AgentPresence.of(site: "plant-a", certificates: [certificate("a1", contact: AgentPresence.offlineAfter + 1)], now: now)
        #expect(silent.state == .offline)
        #expect(silent.text(now: now).contains("silent for more than three polls"))
        let shown = silent.displayStatus(of: change(.applying))
        #expect(shown?.status == "unknown" && shown?.note?.contains("unknown until the agent reports") == true)
        #expect(silent.displayStatus(of: change(.ready)) == nil && silent.displayStatus(of: change(.failed)) == nil, "only a started change is unknown")

        // The freshest contact of any current certificate counts; revoked ones and other sites' do not.
        let renewed = AgentPresence.of(site: "plant-a", certificates: [certificate("old", contact: 3600), certificate("new", contact: 5),
                                                                       certificate("gone", contact: 1, revoked: true), certificate("b", site: "plant-b", contact: 1)], now: now)
        #expect(renewed.state == .online && renewed.serial == "new")
        let revokedOnly = AgentPresence.of(site: "plant-a", certificates: [certificate("gone", contact: 1, revoked: true)], now: now)
        #expect(revokedOnly.state == .none)
        #expect(revokedOnly.displayStatus(of: change(.applying))?.status == "unknown")
        let neverSeen = AgentPresence.of(site: "plant-a", certificates: [certificate("a1", contact: nil)], now: now)
        #expect(neverSeen.state == .offline && neverSeen.text(now: now).contains("no contact yet"))
    }
}
