import Crypto
import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

/// Something people are told about: derived from one audit record, or from a condition the server observes (a window
/// coming up for a change still unsigned, an agent gone silent, an audit log that does not verify).
struct NotificationOccasion: Sendable, Hashable {
    var event: NotificationConfiguration.Event
    /// Unique per occasion: `record/<sequence>`, `reminder/<change>/<window start>`, `agent-offline/<site>/<contact>`.
    var key: String
    var site: String?
    var siteName: String?
    var changeID: String?
    /// One line: `plant-a-4 at Plant A waits for your signature`.
    var title: String
    /// Name and value, in order: Site, Change, Plan, Commit, When (plant time and UTC), Reason …
    var facts: [(name: String, value: String)]
    /// The console path (`/changes/plant-a-4`), made absolute with `consoleURL`.
    var path: String?
    var at: Date
    var severity: Severity
    /// The audit record it comes from, when it comes from one.
    var sequence: Int64?
    /// E-mail addresses of the accountable owners of the components the change touches.
    var ownerAddresses: [String] = []
    /// Approvers who signed already (an `approval-needed` notification skips them).
    var signedBy: Set<String> = []

    enum Severity: String, Sendable { case info, warning, critical }

    static func == (a: Self, b: Self) -> Bool { a.key == b.key && a.event == b.event }
    func hash(into hasher: inout Hasher) { hasher.combine(key); hasher.combine(event) }
}

/// Turns occasions into outbox entries: who receives each (the configured rules), and the message in each channel's
/// form (an e-mail with text and HTML parts; Interlock's JSON, a Teams card or a Slack message for a webhook).
struct NotificationComposer: Sendable {
    var config: NotificationConfiguration
    var users: [InstanceConfiguration.User]
    /// The site definitions of the desired state, for each site's approvers (nil before the first pass).
    var sites: [String: Site]

    /// A delivery target.
    enum Target: Hashable {
        case email(address: String, name: String?)
        case webhook(NotificationConfiguration.Webhook)

        var channel: String { if case .webhook = self { "webhook" } else { "email" } }
        var recipient: String {
            switch self {
            case .email(let address, _): address
            case .webhook(let hook): hook.name
            }
        }
    }

    /// The outbox entries for `occasion`: one per target of every matching rule, each target once.
    func notifications(for occasion: NotificationOccasion) -> [NewNotification] {
        var targets: [Target] = []
        var seen = Set<String>()
        for rule in config.rules where rule.events.contains(occasion.event) {
            if let sites = rule.sites {
                guard let site = occasion.site, sites.contains(site) else { continue }
            }
            for recipient in rule.recipients {
                for target in resolve(recipient, occasion) where seen.insert("\(target.channel)/\(target.recipient.lowercased())").inserted {
                    targets.append(target)
                }
            }
        }
        return targets.map { target in
            let key = "\(occasion.key)/\(occasion.event.rawValue)/\(target.channel)/\(target.recipient)"
            switch target {
            case .email(let address, let name):
                return NewNotification(
                    key: key, event: occasion.event.rawValue, site: occasion.site, changeID: occasion.changeID, channel: target.channel,
                    recipient: address, subject: subject(occasion), text: text(occasion, to: name), html: html(occasion, to: name))
            case .webhook(let hook):
                return NewNotification(
                    key: key, event: occasion.event.rawValue, site: occasion.site, changeID: occasion.changeID, channel: target.channel,
                    recipient: hook.name, subject: subject(occasion), text: text(occasion, to: nil),
                    payload: payload(occasion, format: hook.format, id: Self.deliveryID(key)))
            }
        }
    }

    /// A stable id for one notification (the webhook's `id`, the e-mail's Message-ID): a receiver drops repeats by it.
    static func deliveryID(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Recipients

    func resolve(_ recipient: NotificationConfiguration.Recipient, _ occasion: NotificationOccasion) -> [Target] {
        func mail(_ chosen: [InstanceConfiguration.User]) -> [Target] {
            chosen.compactMap { user in user.email.map { Target.email(address: $0, name: user.name) } }
        }
        switch recipient {
        case .approvers:
            guard let site = occasion.site else { return [] }
            var approvers = users.filter { $0.roles.contains(.approver) && $0.actsFor(site) }
            if let listed = sites[site]?.approval.approvers, !listed.isEmpty {
                approvers = approvers.filter { user in
                    listed.contains(user.id) || listed.contains { $0.hasPrefix("group:") && user.groups.contains(String($0.dropFirst(6))) }
                }
            }
            if occasion.event == .approvalNeeded { approvers = approvers.filter { !occasion.signedBy.contains($0.id) } }
            return mail(approvers)
        case .site:
            guard let site = occasion.site else { return [] }
            return mail(users.filter { $0.sites.contains(site) })
        case .owner:
            return occasion.ownerAddresses.map { Target.email(address: $0, name: nil) }
        case .role(let role):
            return mail(users.filter { $0.roles.contains(role) && (occasion.site.map($0.actsFor) ?? true) })
        case .group(let group):
            return mail(users.filter { $0.groups.contains(group) })
        case .user(let id):
            return mail(users.filter { $0.id == id })
        case .email(let address):
            return [.email(address: address, name: nil)]
        case .webhook(let name):
            return config.webhooks.first { $0.name == name }.map { [.webhook($0)] } ?? []
        }
    }

    /// The e-mail addresses in an owner's contact text (`ot-infra@plants.example, +49 …`).
    static func addresses(in text: String) -> [String] {
        text.split(whereSeparator: { $0.isWhitespace || $0.isNewline || $0 == "," || $0 == ";" || $0 == "<" || $0 == ">" })
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "()[].:")) }
            .filter { word in
                let parts = word.split(separator: "@", omittingEmptySubsequences: false)
                return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && MailMessage.isPlainAddress(word)
            }
    }

    // MARK: - Messages

    var link: (NotificationOccasion) -> String? {
        { occasion in occasion.path.map { (config.consoleURL ?? "") + $0 } }
    }

    func subject(_ occasion: NotificationOccasion) -> String {
        Self.headerSafe("[Interlock] " + occasion.title)
    }

    /// Header values never carry a line break (a repository's site name must not add a header).
    static func headerSafe(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 }.prefix(200))
    }

    func text(_ occasion: NotificationOccasion, to name: String?) -> String {
        var lines: [String] = []
        if let name { lines.append("Hello \(name),"); lines.append("") }
        lines.append(occasion.title + ".")
        lines.append("")
        let width = occasion.facts.map(\.name.count).max() ?? 0
        for fact in occasion.facts {
            lines.append(fact.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + fact.value)
        }
        if let url = link(occasion) {
            lines.append("")
            lines.append(occasion.event == .approvalNeeded ? "Read the plan and sign: \(url)" : "Open: \(url)")
        }
        lines.append("")
        lines.append("-- ")
        lines.append("Interlock tells you this because the instance configuration's notifications send \(occasion.event.rawValue) to you.")
        return lines.joined(separator: "\n") + "\n"
    }

    func html(_ occasion: NotificationOccasion, to name: String?) -> String {
        func e(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let colour = occasion.severity == .critical ? "#b0261c" : occasion.severity == .warning ? "#8a5a00" : "#1d4ed8"
        var body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(e(occasion.title))</title></head>"
        body += "<body style=\"font-family:system-ui,sans-serif;color:#1d2430;max-width:640px\">"
        if let name { body += "<p>Hello \(e(name)),</p>" }
        body += "<h1 style=\"font-size:18px;border-left:4px solid \(colour);padding-left:8px\">\(e(occasion.title))</h1>"
        body += "<table style=\"border-collapse:collapse\">"
        for fact in occasion.facts {
            body += "<tr><th style=\"text-align:left;padding:3px 12px 3px 0;vertical-align:top;color:#5b6575\">\(e(fact.name))</th><td style=\"padding:3px 0\">\(e(fact.value))</td></tr>"
        }
        body += "</table>"
        if let url = link(occasion) {
            let label = occasion.event == .approvalNeeded ? "Read the plan and sign" : "Open in Interlock"
            body += "<p><a href=\"\(e(url))\" style=\"display:inline-block;background:\(colour);color:#fff;padding:8px 14px;border-radius:6px;text-decoration:none\">\(label)</a></p>"
        }
        body += "<p style=\"color:#5b6575;font-size:12px\">Interlock tells you this because the instance configuration's notifications send \(e(occasion.event.rawValue)) to you.</p>"
        return body + "</body></html>"
    }

    /// The webhook body in the webhook's format.
    func payload(_ occasion: NotificationOccasion, format: NotificationConfiguration.Webhook.Format, id: String) -> String {
        let url = link(occasion)
        let value: Value
        switch format {
        case .json:
            var object: [String: Value] = [
                "id": .string(id), "event": .string(occasion.event.rawValue), "severity": .string(occasion.severity.rawValue),
                "title": .string(occasion.title), "occurredAt": .string(AuditTimestamp.format(occasion.at)),
                "facts": .array(occasion.facts.map { .object(["name": .string($0.name), "value": .string($0.value)]) }),
            ]
            object["site"] = occasion.site.map(Value.string) ?? .null
            object["change"] = occasion.changeID.map(Value.string) ?? .null
            object["link"] = url.map(Value.string) ?? .null
            object["auditSequence"] = occasion.sequence.map { .int(Int($0)) } ?? .null
            value = .object(object)
        case .teams:
            // An Office 365 connector card, which Teams' incoming webhooks (and Workflows' "post to a channel") accept.
            var card: [String: Value] = [
                "@type": .string("MessageCard"), "@context": .string("https://schema.org/extensions"),
                "summary": .string(occasion.title), "title": .string(occasion.title),
                "themeColor": .string(occasion.severity == .critical ? "B0261C" : occasion.severity == .warning ? "8A5A00" : "1D4ED8"),
                // Plain text: a commit summary must not become a link or formatting.
                "sections": .array([.object(["markdown": .bool(false),
                                             "facts": .array(occasion.facts.map { .object(["name": .string($0.name), "value": .string($0.value)]) })])]),
            ]
            if let url {
                card["potentialAction"] = .array([.object([
                    "@type": .string("OpenUri"), "name": .string("Open in Interlock"),
                    "targets": .array([.object(["os": .string("default"), "uri": .string(url)])]),
                ])])
            }
            value = .object(card)
        case .slack:
            func mrkdwn(_ text: String) -> String {
                text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            }
            var text = "*\(mrkdwn(occasion.title))*"
            if let url { text += " — <\(url)|open in Interlock>" }
            let facts = occasion.facts.map { "*\(mrkdwn($0.name))*: \(mrkdwn($0.value))" }.joined(separator: "\n")
            value = .object([
                "text": .string(mrkdwn(occasion.title) + (url.map { " — \($0)" } ?? "")),
                "blocks": .array([
                    .object(["type": .string("section"), "text": .object(["type": .string("mrkdwn"), "text": .string(text)])]),
                    .object(["type": .string("section"), "text": .object(["type": .string("mrkdwn"), "text": .string(facts.isEmpty ? " " : facts)])]),
                ]),
            ])
        }
        return String(decoding: value.canonicalJSONBytes, as: UTF8.self)
    }
}
