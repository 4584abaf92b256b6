import Foundation
import InterlockTestSupport
import Testing
@testable import InterlockStore

/// Enrolments and agent certificates, the same on SQLite and PostgreSQL: a token is used once and never after it
/// expired, an enrolment is decided once, a revocation is recorded once, and every step is in the audit log.
@Suite("Agent registry (SQLite and PostgreSQL)", .serialized)
struct AgentRegistryTests {
    let t0 = Date(timeIntervalSince1970: 1_772_366_400)
    let operatorActor = AuditActor(id: "ops-oncall", name: "IT operations", role: "operator", authentication: "password (cli, os-user:root)")

    func open(_ site: String, token: String, id: String, expires: TimeInterval = 3600) -> AgentEnrolment {
        AgentEnrolment(id: id, site: site, tokenHash: "hash-" + token, status: .open, createdAt: t0, expiresAt: t0.addingTimeInterval(expires), createdBy: "ops-oncall")
    }

    func entry(_ action: String, site: String?) -> AuditEntry {
        AuditEntry(actor: operatorActor, category: .access, action: action, site: site)
    }

    func certificate(_ serial: String, site: String, enrolment: String) -> AgentCertificate {
        AgentCertificate(serial: serial, site: site, enrolmentID: enrolment, fingerprint: "fp-" + serial, keyFingerprint: "key-" + serial,
                         notBefore: t0, notAfter: t0.addingTimeInterval(30 * 86400), pem: "PEM " + serial, issuedAt: t0)
    }

    @Test(arguments: StoreKind.allCases)
    func aTokenIsUsedOnceAndNeverAfterItExpired(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let one = try #require(under.store as? any AgentRegistry)
        let two = try #require(try under.another() as? any AgentRegistry)
        try one.createEnrolment(open("plant-a", token: "t1", id: "enr-1"), entries: [entry("agent.enrolment.created", site: "plant-a")])
        try one.createEnrolment(open("plant-b", token: "t2", id: "enr-2", expires: 60), entries: [])

        // Two agents present the same token at once, through two connections: one wins.
        let refusal = [AuditEntry(actor: operatorActor, category: .access, action: "agent.enrolment.refused", result: .failure, error: "unknown token")]
        let results = Locked2<[AgentEnrolment?]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let store = index == 0 ? one : two
            let result = try? store.requestEnrolment(
                tokenHash: "hash-t1", request: "CSR \(index)", keyFingerprint: "key-\(index)", at: t0.addingTimeInterval(10), from: "10.0.0.\(index)",
                entries: { [entry("agent.enrolment.requested", site: $0.site)] }, refusal: refusal)
            results.append(result ?? nil)
        }
        let winners = results.value.compactMap { $0 }
        #expect(winners.count == 1, "one of two requests with one token wins")
        let won = try #require(winners.first)
        #expect(won.status == .requested && won.site == "plant-a" && won.requestedFrom?.hasPrefix("10.0.0.") == true)
        #expect(try two.enrolment(id: "enr-1") == won)

        // Used: refused; expired: refused; both audited as refusals.
        #expect(try one.requestEnrolment(tokenHash: "hash-t1", request: "CSR", keyFingerprint: "k", at: t0.addingTimeInterval(20), from: "x",
                                         entries: { _ in [] }, refusal: refusal) == nil)
        #expect(try one.requestEnrolment(tokenHash: "hash-t2", request: "CSR", keyFingerprint: "k", at: t0.addingTimeInterval(61), from: "x",
                                         entries: { _ in [] }, refusal: refusal) == nil)
        #expect(try one.enrolment(id: "enr-2")?.status == .open)
        let actions = try under.store.records(matching: .all).map(\.action)
        #expect(actions == ["agent.enrolment.created", "agent.enrolment.requested", "agent.enrolment.refused", "agent.enrolment.refused", "agent.enrolment.refused"])
        #expect(try one.enrolments(site: nil).map(\.id).sorted() == ["enr-1", "enr-2"])
        #expect(try one.enrolments(site: "plant-b").map(\.id) == ["enr-2"])
    }

    @Test(arguments: StoreKind.allCases)
    func anEnrolmentIsDecidedOnceAndARevocationIsRecordedOnce(kind: StoreKind) throws {
        let under = try StoreUnderTest(kind)
        let store = try #require(under.store as? any AgentRegistry)
        try store.createEnrolment(open("plant-a", token: "t1", id: "enr-1"), entries: [])
        #expect { try store.decideEnrolment(id: "enr-1", by: "it-admin", at: t0, certificate: nil, entries: []) }
            throws: { ($0 as? AgentRegistryError)?.code == .conflict }
        #expect { try store.decideEnrolment(id: "enr-9", by: "it-admin", at: t0, certificate: nil, entries: []) }
            throws: { ($0 as? AgentRegistryError)?.code == .notFound }
        _ = try store.requestEnrolment(tokenHash: "hash-t1", request: "CSR", keyFingerprint: "k", at: t0, from: "x", entries: { _ in [] }, refusal: [])
        let issued = certificate("aa01", site: "plant-a", enrolment: "enr-1")
        let approved = try store.decideEnrolment(id: "enr-1", by: "it-admin", at: t0.addingTimeInterval(5), certificate: issued,
                                                 entries: [entry("agent.enrolment.approved", site: "plant-a")])
        #expect(approved.status == .approved && approved.serial == "aa01" && approved.decidedBy == "it-admin")
        #expect(try store.certificate(serial: "aa01") == issued)
        #expect { try store.decideEnrolment(id: "enr-1", by: "it-admin", at: t0, certificate: nil, entries: []) }
            throws: { ($0 as? AgentRegistryError)?.code == .conflict }

        var renewed = certificate("aa02", site: "plant-a", enrolment: "enr-1")
        renewed.renews = "aa01"
        renewed.issuedAt = t0.addingTimeInterval(100)
        try store.addCertificate(renewed, entries: [])
        #expect(try store.certificates(site: "plant-a").map(\.serial) == ["aa02", "aa01"])
        #expect(try store.certificates(site: "plant-b").isEmpty)

        try store.recordContact(serial: "aa02", at: t0.addingTimeInterval(200), from: "10.1.1.1")
        try store.recordContact(serial: "aa02", at: t0.addingTimeInterval(150), from: "10.9.9.9")
        #expect(try store.certificate(serial: "aa02")?.lastContact == t0.addingTimeInterval(200), "last contact never goes back")
        #expect(try store.certificate(serial: "aa02")?.lastAddress == "10.1.1.1")

        let before = try under.store.count()
        let revoked = try store.revokeCertificates(serials: ["aa01", "aa02"], by: "ops-oncall", at: t0.addingTimeInterval(300),
                                                   entries: [entry("agent.certificate.revoked", site: "plant-a")])
        #expect(revoked.map(\.serial).sorted() == ["aa01", "aa02"] && revoked.allSatisfy { $0.revokedBy == "ops-oncall" })
        #expect(try under.store.count() == before + 1)
        #expect(try store.revokeCertificates(serials: ["aa01"], by: "someone", at: t0, entries: [entry("agent.certificate.revoked", site: "plant-a")]).isEmpty)
        #expect(try under.store.count() == before + 1, "revoking a revoked certificate records nothing")
        #expect(try store.certificate(serial: "aa01")?.revokedBy == "ops-oncall")
    }
}

/// A value appended to from several threads.
final class Locked2<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func append<Element>(_ element: Element) where Value == [Element] { lock.lock(); stored.append(element); lock.unlock() }
}
