/// `notifications` in the instance configuration: how Interlock reaches people (an SMTP server, webhooks) and who is
/// told what (rules by event, site and recipient). Who may sign or operate stays in `users`; this says only who hears.
public struct NotificationConfiguration: Sendable, Hashable {
    /// What happens that people are told about.
    public enum Event: String, Sendable, Hashable, CaseIterable {
        /// A change waits for the recipient's signature (sent once, and once more before the window it could use opens).
        case approvalNeeded = "approval-needed"
        /// A window opened with an approved change in it: it is applied now.
        case windowOpened = "window-opened"
        case applied
        case rolledBack = "rolled-back"
        /// An apply or a rollback that failed: the site holds what the record says, which may be neither old nor new.
        case failed
        /// A site of an earlier wave rolled back: later waves wait until a rollout owner resumes or skips.
        case rolloutHalted = "rollout-halted"
        case drift
        case agentOffline = "agent-offline"
        case auditVerificationFailed = "audit-verification-failed"
        /// A notification could not be delivered after every retry (to whoever the rules send this event to).
        case deliveryFailed = "delivery-failed"
    }

    /// Who receives a rule's notifications.
    public enum Recipient: Sendable, Hashable, CustomStringConvertible {
        /// The site's approvers (for `approval-needed`: those who have not signed).
        case approvers
        /// Everyone who acts for the site by name (not through `*`).
        case site
        /// The accountable owner of the components a change touches, when its contact holds an e-mail address.
        case owner
        case role(InstanceConfiguration.User.Role)
        case group(String)
        case user(String)
        case email(String)
        case webhook(String)

        public var description: String {
            switch self {
            case .approvers: "approvers"
            case .site: "site"
            case .owner: "owner"
            case .role(let role): "role:\(role.rawValue)"
            case .group(let group): "group:\(group)"
            case .user(let user): "user:\(user)"
            case .email(let address): "email:\(address)"
            case .webhook(let name): "webhook:\(name)"
            }
        }
    }

    public struct Rule: Sendable, Hashable {
        public var events: Set<Event>
        /// Nil: every site (and the events that belong to none, such as a failed audit verification).
        public var sites: Set<String>?
        public var recipients: [Recipient]
    }

    /// How e-mail leaves: an SMTP server (submission with STARTTLS by default).
    public struct Email: Sendable, Hashable {
        public enum Security: String, Sendable, Hashable, CaseIterable {
            /// Plain connection upgraded with STARTTLS before anything else is said; refused if the server offers none.
            case starttls
            /// TLS from the first byte (port 465).
            case tls
            /// No encryption: only for a relay on the same host or a test server.
            case none
        }

        public var host: String
        public var port: Int
        public var security: Security
        public var username: String?
        /// A file holding the password (its first line), read when the service starts.
        public var passwordFile: String?
        /// `Interlock <interlock@plant.example.com>`.
        public var from: String
        /// PEM file of the certificate authorities to trust for the server (default: the system's).
        public var caFile: String?
    }

    public struct Webhook: Sendable, Hashable {
        public enum Format: String, Sendable, Hashable, CaseIterable {
            /// Interlock's JSON payload (docs/notifications.md), signed with HMAC-SHA256 when a secret is set.
            case json
            /// A Microsoft Teams incoming webhook (message card).
            case teams
            /// A Slack incoming webhook (text and blocks).
            case slack
        }

        public var name: String
        public var url: String
        public var format: Format
        public var secret: String?
        public var secretFile: String?
    }

    /// The console's address as people reach it, for links in messages (`https://interlock.plant.example.com`).
    public var consoleURL: String?
    public var email: Email?
    public var webhooks: [Webhook]
    public var rules: [Rule]
    /// How long before the window a waiting change could use the reminder to sign goes out.
    public var remindBefore: TimeSpan
    /// How many times a delivery is tried before it counts as failed.
    public var maxAttempts: Int
    /// The pause after the first failed attempt; it doubles after each further one, up to an hour.
    public var firstRetry: TimeSpan

    public init(consoleURL: String? = nil, email: Email? = nil, webhooks: [Webhook] = [], rules: [Rule] = [],
                remindBefore: TimeSpan = TimeSpan(seconds: 2 * 3600), maxAttempts: Int = 10, firstRetry: TimeSpan = TimeSpan(seconds: 30)) {
        self.consoleURL = consoleURL
        self.email = email
        self.webhooks = webhooks
        self.rules = rules
        self.remindBefore = remindBefore
        self.maxAttempts = maxAttempts
        self.firstRetry = firstRetry
    }

    /// An address that can stand in `MAIL FROM:<…>` / `RCPT TO:<…>` as it is: printable ASCII, no space, no angle
    /// bracket, one `@` (nothing a repository's text could use to add an SMTP command).
    public static func isPlainAddress(_ address: String) -> Bool {
        address.utf8.count <= 254 && address.filter({ $0 == "@" }).count == 1 && !address.hasPrefix("@") && !address.hasSuffix("@")
            && address.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "<" && $0 != ">" }
    }

    static let fields = ["consoleURL", "email", "webhooks", "rules", "remindBefore", "maxAttempts", "firstRetry"]

    static func read(_ node: YAMLNode, users: [InstanceConfiguration.User], reader: FieldReader) -> NotificationConfiguration? {
        let what = "the notifications section"
        guard let fields = reader.mapping(node, path: "notifications", allowed: fields, what: what) else { return nil }
        var config = NotificationConfiguration()
        if let url = reader.string(fields, "consoleURL", what: what) {
            if url.hasPrefix("https://") || url.hasPrefix("http://") {
                config.consoleURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            } else {
                reader.diagnostics.error("bad-url", at: fields["consoleURL"]!.location, field: "notifications.consoleURL", "'\(url)' is not an http(s) URL",
                                         hint: "write the console's address as people open it, e.g. https://interlock.plant.example.com")
            }
        }
        if let remind = reader.duration(fields, "remindBefore", what: what) { config.remindBefore = remind }
        if let retry = reader.duration(fields, "firstRetry", what: what) {
            if retry.seconds >= 1, retry.seconds <= 3600 {
                config.firstRetry = retry
            } else {
                reader.diagnostics.error("bad-retry", at: fields["firstRetry"]!.location, field: "notifications.firstRetry", "a first retry after \(retry.seconds) s is out of range",
                                         hint: "write between 1s and 1h; 30s suits most SMTP servers and receivers")
            }
        }
        if let attempts = reader.int(fields, "maxAttempts", what: what) {
            if (1...50).contains(attempts) {
                config.maxAttempts = attempts
            } else {
                reader.diagnostics.error("bad-attempts", at: fields["maxAttempts"]!.location, field: "notifications.maxAttempts", "\(attempts) attempts is out of range",
                                         hint: "write between 1 and 50; 10 tries (30 s doubling, at most 1 h apart) span about 3 hours")
            }
        }
        if let emailNode = fields["email"], !emailNode.isNull { config.email = readEmail(emailNode, reader: reader) }
        var names = Set<String>()
        for (index, hookNode) in reader.list(fields, "webhooks", what: what).enumerated() {
            guard let hook = readWebhook(hookNode, path: "notifications.webhooks[\(index)]", reader: reader) else { continue }
            if !names.insert(hook.name).inserted {
                reader.diagnostics.error("duplicate-webhook", at: hookNode.location, field: "notifications.webhooks[\(index)].name",
                                         "the webhook name '\(hook.name)' is used twice", hint: "give every webhook a unique name")
                continue
            }
            config.webhooks.append(hook)
        }
        let groups = Set(users.flatMap(\.groups)), userIDs = Set(users.map(\.id))
        for (index, ruleNode) in reader.list(fields, "rules", what: what).enumerated() {
            let path = "notifications.rules[\(index)]"
            guard let rule = reader.mapping(ruleNode, path: path, allowed: ["events", "sites", "to"], what: "a notification rule") else { continue }
            var events = Set<Event>()
            for (text, location) in reader.stringList(rule, "events", required: true, what: "a notification rule", hint: "add e.g. 'events: [approval-needed, rolled-back]'") {
                if text == "*" {
                    events.formUnion(Event.allCases)
                } else if let event = Event(rawValue: text) {
                    events.insert(event)
                } else {
                    var hint = "use: \(Event.allCases.map(\.rawValue).joined(separator: ", ")), or * for all"
                    if let guess = Spelling.closest(to: text, in: Event.allCases.map(\.rawValue)) { hint = "did you mean '\(guess)'? (\(hint))" }
                    reader.diagnostics.error("unknown-event", at: location, field: "\(path).events", "unknown event '\(text)'", hint: hint)
                }
            }
            let sites = rule["sites"] == nil ? nil : Set(reader.stringList(rule, "sites", what: "a notification rule").map(\.0))
            var recipients: [Recipient] = []
            for (text, location) in reader.stringList(rule, "to", required: true, what: "a notification rule", hint: "add e.g. 'to: [approvers, webhook:plant-a-teams]'") {
                let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
                var recipient: Recipient?
                var problem: String?
                switch (parts.first ?? "", parts.count == 2 ? parts[1] : nil) {
                case ("approvers", nil): recipient = .approvers
                case ("site", nil): recipient = .site
                case ("owner", nil): recipient = .owner
                case ("role", let value?):
                    if let role = InstanceConfiguration.User.Role(rawValue: value) { recipient = .role(role) } else { problem = "unknown role '\(value)'" }
                case ("group", let value?):
                    if groups.contains(value) { recipient = .group(value) } else { problem = "no user is in the group '\(value)'" }
                case ("user", let value?):
                    if let user = users.first(where: { $0.id == value }) {
                        recipient = .user(value)
                        if user.email == nil { problem = "user '\(value)' has no e-mail address" }
                        else if let email = user.email, !isPlainAddress(email) { problem = "user '\(value)' has no usable e-mail address ('\(email.prefix(60))')" }
                    } else {
                        problem = "no user has the id '\(value)'" + (Spelling.closest(to: value, in: Array(userIDs)).map { " (did you mean '\($0)'?)" } ?? "")
                    }
                case ("email", let value?):
                    if isPlainAddress(value) { recipient = .email(value) } else { problem = "'\(value)' is not an e-mail address" }
                case ("webhook", let value?):
                    recipient = .webhook(value)
                    if !names.contains(value) { problem = "no webhook is named '\(value)'" }
                default: problem = "'\(text)' is not a recipient"
                }
                if let problem {
                    reader.diagnostics.error("bad-recipient", at: location, field: "\(path).to", problem,
                                             hint: "use approvers, site, owner, role:<role>, group:<group>, user:<id>, email:<address> or webhook:<name>")
                    continue
                }
                if let recipient { recipients.append(recipient) }
            }
            let sendsMail = recipients.contains { if case .webhook = $0 { false } else { true } }
            if sendsMail, config.email == nil {
                reader.diagnostics.error("notification-without-email", at: ruleNode.location, field: "\(path).to", "this rule sends e-mail, but no SMTP server is configured",
                                         hint: "add 'notifications.email' with host, port and from, or send only to webhook:<name>")
            }
            config.rules.append(Rule(events: events, sites: sites, recipients: recipients))
        }
        return config
    }

    private static func readEmail(_ node: YAMLNode, reader: FieldReader) -> Email? {
        let what = "the SMTP server"
        guard let fields = reader.mapping(node, path: "notifications.email", allowed: ["host", "port", "security", "username", "passwordFile", "from", "caFile"], what: what)
        else { return nil }
        let host = reader.string(fields, "host", required: true, what: what, hint: "add 'host: smtp.plant.example.com'")
        let from = reader.string(fields, "from", required: true, what: what, hint: "add 'from: \"Interlock <interlock@plant.example.com>\"'")
        var security = Email.Security.starttls
        if let text = reader.string(fields, "security", what: what) {
            if let value = Email.Security(rawValue: text) {
                security = value
            } else {
                reader.diagnostics.error("bad-smtp-security", at: fields["security"]!.location, field: "notifications.email.security", "unknown security '\(text)'",
                                         hint: "use starttls (port 587), tls (port 465) or none (a relay on this host only)")
            }
        }
        let port = reader.int(fields, "port", what: what) ?? (security == .tls ? 465 : security == .starttls ? 587 : 25)
        if !(1...65535).contains(port) {
            reader.diagnostics.error("bad-port", at: fields["port"]?.location ?? node.location, field: "notifications.email.port", "\(port) is not a TCP port", hint: "write e.g. 587")
        }
        let username = reader.string(fields, "username", what: what), passwordFile = reader.string(fields, "passwordFile", what: what)
        if username != nil, passwordFile == nil {
            reader.diagnostics.error("smtp-without-password", at: node.location, field: "notifications.email.passwordFile", "a username is set but no password file",
                                     hint: "add 'passwordFile: /etc/interlock/smtp-password' (a file only the service reads)")
        }
        if let passwordFile, !passwordFile.hasPrefix("/") {
            reader.diagnostics.error("relative-password-file", at: fields["passwordFile"]!.location, field: "notifications.email.passwordFile",
                                     "'\(passwordFile)' is not an absolute path", hint: "write the file's absolute path")
        }
        if username != nil, security == .none {
            reader.diagnostics.error("smtp-password-in-clear", at: fields["security"]?.location ?? node.location, field: "notifications.email.security",
                                     "the SMTP password would cross the network unencrypted", hint: "use security: starttls or tls")
        }
        if let from, from.contains(where: \.isNewline) || !isPlainAddress(from.lastIndex(of: "<").map { String(from[from.index(after: $0)...].prefix { $0 != ">" }) } ?? from) {
            reader.diagnostics.error("bad-from", at: fields["from"]!.location, field: "notifications.email.from", "'\(from)' is not a sender address",
                                     hint: "write e.g. \"Interlock <interlock@plant.example.com>\"")
        }
        guard let host, let from else { return nil }
        return Email(host: host, port: port, security: security, username: username, passwordFile: passwordFile, from: from,
                     caFile: reader.string(fields, "caFile", what: what))
    }

    private static func readWebhook(_ node: YAMLNode, path: String, reader: FieldReader) -> Webhook? {
        let what = "a notification webhook"
        guard let fields = reader.mapping(node, path: path, allowed: ["name", "url", "format", "secret", "secretFile"], what: what) else { return nil }
        let name = reader.string(fields, "name", required: true, what: what, hint: "add 'name: plant-a-teams'")
        let url = reader.string(fields, "url", required: true, what: what, hint: "add the receiver's URL")
        var format = Webhook.Format.json
        if let text = reader.string(fields, "format", what: what) {
            if let value = Webhook.Format(rawValue: text) {
                format = value
            } else {
                reader.diagnostics.error("bad-webhook-format", at: fields["format"]!.location, field: "\(path).format", "unknown format '\(text)'",
                                         hint: "use json (Interlock's signed payload), teams or slack")
            }
        }
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            reader.diagnostics.error("bad-url", at: fields["url"]!.location, field: "\(path).url", "'\(url.prefix(60))' is not an http(s) URL", hint: "write the receiver's https:// URL")
        }
        let secret = reader.string(fields, "secret", what: what), secretFile = reader.string(fields, "secretFile", what: what)
        if secret != nil, secretFile != nil {
            reader.diagnostics.error("webhook-two-secrets", at: node.location, field: "\(path).secretFile", "the webhook has both 'secret' and 'secretFile'", hint: "keep one of them")
        }
        if let secret, secret.count < 16 {
            reader.diagnostics.error("webhook-short-secret", at: fields["secret"]!.location, field: "\(path).secret", "a webhook secret of \(secret.count) characters is too easy to guess",
                                     hint: "use at least 16 random characters, e.g. from 'openssl rand -hex 32'")
        }
        if let secretFile, !secretFile.hasPrefix("/") {
            reader.diagnostics.error("webhook-relative-secret-file", at: fields["secretFile"]!.location, field: "\(path).secretFile", "'\(secretFile)' is not an absolute path",
                                     hint: "write the secret file's absolute path")
        }
        guard let name, let url else { return nil }
        return Webhook(name: name, url: url, format: format, secret: secret, secretFile: secretFile)
    }
}
