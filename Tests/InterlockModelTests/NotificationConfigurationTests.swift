import Foundation
import Testing
@testable import InterlockModel

/// The `notifications` section of the instance configuration: read whole, and every mistake named by its field.
@Suite struct NotificationConfigurationTests {
    static let users = """
        users:
          - { id: mgr-plant-a, name: Anna Berger, email: anna.berger@example.com, roles: [approver], sites: [plant-a], groups: [plant-a-managers] }
          - { id: deputy-plant-a, name: Jonas Keller, roles: [approver], sites: [plant-a] }

        """

    static func read(_ notifications: String) -> (NotificationConfiguration?, [Diagnostic]) {
        let (config, diagnostics) = InstanceConfiguration.read(Data((users + notifications).utf8), file: "interlock.yaml")
        return (config?.notifications, diagnostics.filter { $0.severity == .error })
    }

    @Test func aWholeSectionIsRead() throws {
        let (config, errors) = Self.read("""
            notifications:
              consoleURL: https://interlock.plants.example/
              remindBefore: 3h
              firstRetry: 10s
              maxAttempts: 4
              email: { host: smtp.plants.example, username: interlock, passwordFile: /etc/interlock/smtp, from: "Interlock <i@plants.example>" }
              webhooks:
                - { name: hub, url: "https://hub.example/x", secretFile: /etc/interlock/hub }
                - { name: teams, url: "https://teams.example/y", format: teams }
              rules:
                - { events: [approval-needed, rolled-back], sites: [plant-a], to: [approvers, owner, "group:plant-a-managers", webhook:teams] }
                - { events: ["*"], to: [webhook:hub, "email:ops@plants.example", "role:operator"] }
            """)
        #expect(errors.isEmpty, "\(errors)")
        let n = try #require(config)
        #expect(n.consoleURL == "https://interlock.plants.example")
        #expect(n.remindBefore.seconds == 3 * 3600 && n.firstRetry.seconds == 10 && n.maxAttempts == 4)
        #expect(n.email?.port == 587 && n.email?.security == .starttls)
        #expect(n.webhooks.map(\.format) == [.json, .teams])
        #expect(n.rules[0].sites == ["plant-a"] && n.rules[0].events == [.approvalNeeded, .rolledBack])
        #expect(n.rules[0].recipients == [.approvers, .owner, .group("plant-a-managers"), .webhook("teams")])
        #expect(n.rules[1].events == Set(NotificationConfiguration.Event.allCases) && n.rules[1].sites == nil)
    }

    @Test func everyMistakeNamesItsField() {
        let (_, errors) = Self.read("""
            notifications:
              consoleURL: interlock.plants.example
              maxAttempts: 0
              email: { host: smtp.example, security: none, username: interlock, passwordFile: relative/path, from: nobody }
              webhooks:
                - { name: hub, url: "ftp://hub.example", secret: short }
                - { name: hub, url: "https://hub.example" }
              rules:
                - { events: [aproval-needed], to: [webhook:nothere, "user:nobody", "user:deputy-plant-a", "role:boss", "email:not an address"] }
            """)
        let byField = Dictionary(errors.map { ($0.field ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byField["notifications.consoleURL"]?.code == "bad-url")
        #expect(byField["notifications.maxAttempts"]?.code == "bad-attempts")
        #expect(byField["notifications.email.security"]?.code == "smtp-password-in-clear")
        #expect(byField["notifications.email.passwordFile"]?.code == "relative-password-file")
        #expect(byField["notifications.email.from"]?.code == "bad-from")
        #expect(byField["notifications.webhooks[0].url"]?.code == "bad-url")
        #expect(byField["notifications.webhooks[0].secret"]?.code == "webhook-short-secret")
        #expect(byField["notifications.webhooks[1].name"]?.code == "duplicate-webhook")
        let unknown = errors.first { $0.code == "unknown-event" }
        #expect(unknown?.hint?.contains("did you mean 'approval-needed'") == true, "\(errors)")
        let recipients = errors.filter { $0.code == "bad-recipient" }.map(\.message)
        #expect(recipients.contains("no webhook is named 'nothere'"))
        #expect(recipients.contains("no user has the id 'nobody'"))
        #expect(recipients.contains("user 'deputy-plant-a' has no e-mail address"))
        #expect(recipients.contains("unknown role 'boss'"))
        #expect(recipients.contains("'not an address' is not an e-mail address"))
    }

    @Test func aRuleThatMailsWithoutAnSMTPServerIsAnError() {
        let (_, errors) = Self.read("""
            notifications:
              rules:
                - { events: [applied], to: [approvers] }
            """)
        #expect(errors.contains { $0.code == "notification-without-email" && $0.field == "notifications.rules[0].to" }, "\(errors)")
        let (_, fine) = Self.read("""
            notifications:
              webhooks: [{ name: hub, url: "https://hub.example" }]
              rules:
                - { events: [applied], to: [webhook:hub] }
            """)
        #expect(fine.isEmpty, "webhooks alone need no SMTP server: \(fine)")
    }
}
