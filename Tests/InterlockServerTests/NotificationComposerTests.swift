import Foundation
import Testing
@testable import InterlockModel
@testable import InterlockServer

/// Who an occasion reaches and what each channel carries.
@Suite struct NotificationComposerTests {
    typealias User = InstanceConfiguration.User
    static let users = [
        User(id: "mgr-plant-a", name: "Anna Berger", email: "anna.berger@example.com", roles: [.approver], sites: ["plant-a"], groups: ["plant-a-managers"]),
        User(id: "deputy-plant-a", name: "Jonas Keller", email: "jonas@example.com", roles: [.approver], sites: ["plant-a"]),
        User(id: "mgr-plant-b", name: "Maria Lopez", email: "maria@example.com", roles: [.approver], sites: ["plant-b"]),
        User(id: "ops", name: "Olga Operator", email: "ops@example.com", roles: [.operator], sites: ["*"]),
    ]

    static func occasion(_ event: NotificationConfiguration.Event, site: String? = "plant-a", title: String = "plant-a-2 at Plant A waits for your signature") -> NotificationOccasion {
        NotificationOccasion(event: event, key: "record/7", site: site, siteName: "Plant A", changeID: "plant-a-2", title: title,
                             facts: [("Site", "Plant A (plant-a)")], path: "/changes/plant-a-2", at: Date(timeIntervalSince1970: 1_800_000_000),
                             severity: .info, sequence: 7, ownerAddresses: ["ot-infra@plants.example"], signedBy: ["deputy-plant-a"])
    }

    static func composer(_ rules: [NotificationConfiguration.Rule]) -> NotificationComposer {
        let config = NotificationConfiguration(
            consoleURL: "https://interlock.example",
            email: .init(host: "smtp", port: 587, security: .starttls, from: "Interlock <i@example.com>"),
            webhooks: [.init(name: "hub", url: "https://hub", format: .json), .init(name: "teams", url: "https://t", format: .teams),
                       .init(name: "slack", url: "https://s", format: .slack)],
            rules: rules)
        return NotificationComposer(config: config, users: users, sites: [:])
    }

    @Test func approversWhoSignedAreSkippedAndEachTargetIsReachedOnce() {
        let composer = Self.composer([
            .init(events: [.approvalNeeded], sites: ["plant-a"], recipients: [.approvers, .user("mgr-plant-a"), .webhook("hub")]),
            .init(events: [.approvalNeeded], sites: nil, recipients: [.webhook("hub"), .role(.operator)]),
            .init(events: [.approvalNeeded], sites: ["plant-b"], recipients: [.approvers]),
        ])
        let items = composer.notifications(for: Self.occasion(.approvalNeeded))
        #expect(items.map(\.recipient).sorted() == ["anna.berger@example.com", "hub", "ops@example.com"], "\(items.map(\.recipient))")
        #expect(Set(items.map(\.key)).count == items.count)
        #expect(items.allSatisfy { $0.key.hasPrefix("record/7/approval-needed/") })
    }

    @Test func ownersAreReachedAtTheAddressesInTheirContact() {
        #expect(NotificationComposer.addresses(in: "OT team <ot@plants.example>, +49 89 4711; backup: ot2@plants.example.") == ["ot@plants.example", "ot2@plants.example"])
        #expect(NotificationComposer.addresses(in: "call +49 89 4711 300 (24/7)").isEmpty)
        // A contact from the repository cannot smuggle an SMTP command in with a line break: each address stands alone.
        let found = NotificationComposer.addresses(in: "ot@plants.example\r\nRCPT TO:<x@evil.example>")
        #expect(found == ["ot@plants.example", "x@evil.example"] && found.allSatisfy(MailMessage.isPlainAddress))
        #expect(!MailMessage.isPlainAddress("a@b.example\r\nDATA") && !MailMessage.isPlainAddress("a b@c.example") && MailMessage.isPlainAddress("a.b@c.example"))
        let items = Self.composer([.init(events: [.rolledBack], sites: nil, recipients: [.owner])]).notifications(for: Self.occasion(.rolledBack))
        #expect(items.map(\.recipient) == ["ot-infra@plants.example"])
    }

    @Test func eachWebhookFormatCarriesTheTitleAndTheLink() throws {
        let composer = Self.composer([])
        let occasion = Self.occasion(.applied, title: "plant-a-2 was applied at <Plant A>")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(composer.payload(occasion, format: .json, id: "abc").utf8)) as? [String: Any])
        #expect(json["id"] as? String == "abc" && json["event"] as? String == "applied" && json["auditSequence"] as? Int == 7)
        #expect(json["link"] as? String == "https://interlock.example/changes/plant-a-2")
        let teams = try #require(try JSONSerialization.jsonObject(with: Data(composer.payload(occasion, format: .teams, id: "abc").utf8)) as? [String: Any])
        #expect(teams["@type"] as? String == "MessageCard" && teams["title"] as? String == occasion.title)
        let slack = composer.payload(occasion, format: .slack, id: "abc")
        #expect(slack.contains("&lt;Plant A&gt;"), "Slack's mrkdwn escapes < and >: \(slack)")
        #expect(slack.contains("<https://interlock.example/changes/plant-a-2|open in Interlock>"))
        // The HTML part escapes what the repository names; a subject never carries a line break.
        #expect(composer.html(occasion, to: "Anna").contains("&lt;Plant A&gt;"))
        #expect(!composer.subject(Self.occasion(.applied, title: "x\r\nBcc: someone@evil.example")).contains("\n"))
    }

    @Test func anEMailIsMultipartWithEncodedHeadersAndAStableMessageID() {
        let message = MailMessage.build(from: "Interlock <i@example.com>", to: "anna@example.com", subject: "Änderung plant-a-2", text: ".a line\nmore",
                                        html: "<p>x</p>", messageID: "5c0f", event: "applied", date: Date(timeIntervalSince1970: 0))
        #expect(message.contains("Subject: =?utf-8?B?"))
        #expect(message.contains("Message-ID: <5c0f@interlock>"))
        #expect(message.contains("Content-Type: multipart/alternative; boundary=\"interlock-5c0f\""))
        #expect(message.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000"))
        #expect(MailMessage.address("Interlock <i@example.com>") == "i@example.com")
        #expect(NotificationComposer.deliveryID("k") == NotificationComposer.deliveryID("k") && NotificationComposer.deliveryID("k") != NotificationComposer.deliveryID("l"))
    }

    @Test func retriesDoubleFromTheFirstPauseUpToAnHour() {
        let config = NotificationConfiguration(firstRetry: TimeSpan(seconds: 30))
        #expect((1...4).map { NotificationWorker.retryDelay(config: config, attempts: $0) } == [30, 60, 120, 240])
        #expect(NotificationWorker.retryDelay(config: config, attempts: 20) == 3600)
    }
}
