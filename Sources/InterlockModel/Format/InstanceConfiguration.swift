import Foundation

/// The configuration of one Interlock instance (not of the plants): where the desired state comes from,
/// where state and site roots live, how often to reconcile, and who the users are.
/// Read from a YAML file (`--config`, default `$INTERLOCK_CONFIG` or `/etc/interlock/interlock.yaml`).
public struct InstanceConfiguration: Sendable, Hashable {
    public var repository: String?
    public var branch: String
    public var stateDirectory: String?
    public var targetBase: String?
    public var pollInterval: TimeSpan
    public var users: [User]
    public var file: String?
    /// The file the configuration was read from, identified when it was opened: which file (links resolved), the
    /// SHA-256 of exactly the bytes that were parsed, and whether other users may write it.
    public var origin: Origin?
    /// Directories sites' `files` roots must lie inside (`targets.roots`); nil: the target base only.
    public var targetRoots: [String]?
    /// Command lines command drivers may run (`targets.commands`, each a command line whose words a site's
    /// `target.command` must start with); none unless listed.
    public var targetCommands: [[String]]
    /// Environment variables a site's `target.env` may set (`targets.environment`); none unless listed.
    public var targetEnvironment: [String]
    /// The state database (`database`): `postgres://…` or `sqlite:PATH`; nil: interlock.db in the state directory.
    /// `--database` and `$INTERLOCK_DATABASE` take precedence.
    public var database: String?
    /// How long a claim on a change holds without renewal (`leaseDuration`); nil: 30 s.
    public var leaseDuration: TimeSpan?
    /// Push webhooks from the git host (`webhooks.git`); nil: `POST /api/v1/hooks/git` answers 404.
    public var gitWebhook: GitWebhook?
    /// Who is told what, and how (`notifications`); nil: nobody is notified.
    public var notifications: NotificationConfiguration?

    /// `webhooks.git`: the shared secret push webhooks are signed with (GitHub, Gitea/Forgejo and Bitbucket: the HMAC
    /// key; GitLab: the token it sends), and which pushes count.
    public struct GitWebhook: Sendable, Hashable {
        /// The secret itself (the configuration file is readable by the service only), or nil with `secretFile`.
        public var secret: String?
        /// A file holding the secret (its first line), read when the service starts.
        public var secretFile: String?
        /// Only pushes of this repository: its full name (`example/desired-state`) or clone URL. Nil: any repository
        /// the host signs for with this secret.
        public var repository: String?
        /// Only pushes to this branch. Nil: the branch the service follows (`branch`, or the `--rev` of `serve`).
        public var branch: String?

        public init(secret: String?, secretFile: String? = nil, repository: String? = nil, branch: String? = nil) {
            self.secret = secret
            self.secretFile = secretFile
            self.repository = repository
            self.branch = branch
        }
    }

    public init(
        repository: String? = nil, branch: String = "main", stateDirectory: String? = nil, targetBase: String? = nil,
        pollInterval: TimeSpan = TimeSpan(seconds: 60), users: [User] = [], file: String? = nil
    ) {
        self.repository = repository
        self.branch = branch
        self.stateDirectory = stateDirectory
        self.targetBase = targetBase
        self.pollInterval = pollInterval
        self.users = users
        self.file = file
        targetRoots = nil
        targetCommands = []
        targetEnvironment = []
    }

    public func user(_ id: String) -> User? { users.first { $0.id == id } }

    /// Where a configuration's bytes came from (see ``origin``).
    public struct Origin: Sendable, Hashable {
        public var path: String
        public var sha256: String
        public var writableByOthers: Bool

        public init(path: String, sha256: String, writableByOthers: Bool) {
            self.path = path
            self.sha256 = sha256
            self.writableByOthers = writableByOthers
        }
    }

    /// Someone who may use Interlock, with their roles and the sites they act for.
    public struct User: Sendable, Hashable {
        public enum Role: String, Sendable, Hashable, CaseIterable {
            case viewer, approver, `operator`, auditor, admin
        }

        public var id: String
        /// The printed name that appears on signatures.
        public var name: String
        public var email: String?
        /// The title used in the meaning of a signature ("plant manager").
        public var title: String
        public var roles: Set<Role>
        /// Sites the user acts for (`*` for all).
        public var sites: [String]
        public var groups: [String]
        /// PBKDF2 password hash for the web console (`pbkdf2-sha256$<iterations>$<salt>$<hash>`), if any.
        public var passwordHash: String?
        /// Hashes of API tokens that authenticate as this user (`sha256:<64 hex digits>`), for machines.
        public var apiTokens: [String]

        public init(id: String, name: String, email: String? = nil, title: String = "approver", roles: Set<Role>, sites: [String], groups: [String] = [], passwordHash: String? = nil, apiTokens: [String] = []) {
            self.id = id
            self.name = name
            self.email = email
            self.title = title
            self.roles = roles
            self.sites = sites
            self.groups = groups
            self.passwordHash = passwordHash
            self.apiTokens = apiTokens
        }

        public func actsFor(_ site: String) -> Bool { sites.contains("*") || sites.contains(site) }
    }

    /// Reads and checks an instance configuration file; every problem is reported.
    public static func read(_ data: Data, file: String) -> (InstanceConfiguration?, [Diagnostic]) {
        var diagnostics = Diagnostics()
        guard let node = YAMLDocument.parse(data, file: file, diagnostics: &diagnostics) else { return (nil, diagnostics.sorted) }
        let reader = FieldReader()
        reader.diagnostics = diagnostics
        let what = "the instance configuration"
        guard let fields = reader.mapping(node, path: "", allowed: ["repository", "branch", "stateDirectory", "targetBase", "pollInterval", "database", "leaseDuration", "targets", "webhooks", "notifications", "users"], what: what)
        else { return (nil, reader.diagnostics.sorted) }
        var config = InstanceConfiguration(file: file)
        config.repository = reader.string(fields, "repository", what: what)
        config.branch = reader.string(fields, "branch", what: what) ?? "main"
        config.stateDirectory = reader.string(fields, "stateDirectory", what: what)
        config.targetBase = reader.string(fields, "targetBase", what: what)
        config.pollInterval = reader.duration(fields, "pollInterval", what: what) ?? config.pollInterval
        if let text = reader.string(fields, "database", what: what), let node = fields["database"] {
            if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") || text.hasPrefix("sqlite:") {
                config.database = text
            } else {
                reader.diagnostics.error("bad-database", at: node.location, field: "database", "'\(text.prefix(40))' is not a database URL",
                                         hint: "write postgres://USER@HOST:5432/DATABASE?sslmode=verify-full&passwordfile=/etc/interlock/db-password or sqlite:/var/lib/interlock/interlock.db")
            }
        }
        if let lease = reader.duration(fields, "leaseDuration", what: what), let node = fields["leaseDuration"] {
            if lease.seconds >= 2, lease.seconds <= 3600 {
                config.leaseDuration = lease
            } else {
                reader.diagnostics.error("bad-lease-duration", at: node.location, field: "leaseDuration", "a lease of \(lease.seconds) s is out of range",
                                         hint: "write between 2s and 1h; 30s suits most instances (a dead applier's site is taken over after it)")
            }
        }
        if let targetsNode = fields["targets"], !targetsNode.isNull,
           let targets = reader.mapping(targetsNode, path: "targets", allowed: ["roots", "commands", "environment"], what: "the targets section") {
            if targets["roots"] != nil {
                let roots = reader.stringList(targets, "roots", what: "targets")
                for (root, location) in roots where !root.hasPrefix("/") {
                    reader.diagnostics.error("relative-target-root", at: location, field: "targets.roots", "'\(root)' is not an absolute directory",
                                             hint: "write the directory sites' files targets may use as an absolute path, e.g. /srv/interlock/targets")
                }
                config.targetRoots = roots.map(\.0)
            }
            for (command, location) in reader.stringList(targets, "commands", what: "targets") {
                let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                // A relative path would resolve against the desired-state repository: a commit could change the program.
                if let relative = words.first(where: { $0.contains("/") && !$0.hasPrefix("/") }) {
                    reader.diagnostics.error(
                        "relative-target-command", at: location, field: "targets.commands",
                        "'\(relative)' in '\(command)' is a relative path, which would run whatever the repository holds there",
                        hint: "install the driver outside the repository and list it by its absolute path, e.g. '/usr/bin/python3 /opt/interlock/drivers/mqtt-retained/driver.py'")
                }
                if !words.isEmpty { config.targetCommands.append(words) }
            }
            config.targetEnvironment = reader.stringList(targets, "environment", what: "targets").map(\.0)
        }
        if let webhooksNode = fields["webhooks"], !webhooksNode.isNull,
           let webhooks = reader.mapping(webhooksNode, path: "webhooks", allowed: ["git"], what: "the webhooks section"),
           let gitNode = webhooks["git"],
           let git = reader.mapping(gitNode, path: "webhooks.git", allowed: ["secret", "secretFile", "repository", "branch"], what: "the git webhook") {
            let secret = reader.string(git, "secret", what: "the git webhook"), secretFile = reader.string(git, "secretFile", what: "the git webhook")
            if secret == nil, secretFile == nil {
                reader.diagnostics.error("webhook-without-secret", at: gitNode.location, field: "webhooks.git.secret", "the git webhook has no secret",
                                         hint: "add 'secretFile: /etc/interlock/webhook-secret' (a file only the service reads) or 'secret: …' with at least 16 characters; the git host signs each push with it")
            } else if secret != nil, secretFile != nil {
                reader.diagnostics.error("webhook-two-secrets", at: gitNode.location, field: "webhooks.git.secretFile", "the git webhook has both 'secret' and 'secretFile'",
                                         hint: "keep one of them")
            } else if let secret, secret.count < 16 {
                reader.diagnostics.error("webhook-short-secret", at: git["secret"]?.location ?? gitNode.location, field: "webhooks.git.secret",
                                         "a webhook secret of \(secret.count) characters is too easy to guess",
                                         hint: "use at least 16 random characters, e.g. from 'openssl rand -hex 32'")
            } else if let secretFile, !secretFile.hasPrefix("/") {
                reader.diagnostics.error("webhook-relative-secret-file", at: git["secretFile"]?.location ?? gitNode.location, field: "webhooks.git.secretFile",
                                         "'\(secretFile)' is not an absolute path", hint: "write the secret file's absolute path, e.g. /etc/interlock/webhook-secret")
            }
            let repository = reader.string(git, "repository", what: "the git webhook")
            if let repository, !repository.contains("/") {
                reader.diagnostics.error("webhook-repository-name", at: git["repository"]?.location ?? gitNode.location, field: "webhooks.git.repository",
                                         "'\(repository)' names no owner: any owner's repository of that name would match",
                                         hint: "write the full name as the git host shows it, e.g. 'ot/desired-state', or the clone URL")
            }
            var branch = reader.string(git, "branch", what: "the git webhook")
            if let text = branch, text.hasPrefix("refs/heads/") { branch = String(text.dropFirst("refs/heads/".count)) }
            config.gitWebhook = GitWebhook(secret: secret, secretFile: secretFile, repository: repository, branch: branch)
        }
        var seen = Set<String>()
        for (index, userNode) in reader.list(fields, "users", what: what).enumerated() {
            let path = "users[\(index)]"
            guard let user = reader.mapping(userNode, path: path, allowed: ["id", "name", "email", "title", "roles", "sites", "groups", "passwordHash", "apiTokens"], what: "a user")
            else { continue }
            guard let id = reader.string(user, "id", required: true, what: "a user", hint: "add 'id: <login name>'") else { continue }
            if !seen.insert(id).inserted {
                reader.diagnostics.error("duplicate-user", at: userNode.location, field: "\(path).id", "the user id '\(id)' is used twice", hint: "give every user a unique id")
            }
            var roles = Set<User.Role>()
            for (roleText, location) in reader.stringList(user, "roles", required: true, what: "user '\(id)'", hint: "add e.g. 'roles: [approver]'") {
                if let role = User.Role(rawValue: roleText) {
                    roles.insert(role)
                } else {
                    reader.diagnostics.error(
                        "unknown-role", at: location, field: "\(path).roles", "unknown role '\(roleText)'",
                        hint: "use: \(User.Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            let sites = reader.stringList(user, "sites", what: "user '\(id)'").map(\.0)
            if roles.contains(.approver), sites.isEmpty {
                reader.diagnostics.error(
                    "approver-without-sites", at: userNode.location, field: "\(path).sites", "user '\(id)' is an approver for no site",
                    hint: "list the sites they approve for, e.g. 'sites: [plant-a]'")
            }
            let apiTokens = reader.stringList(user, "apiTokens", what: "user '\(id)'")
            for (token, location) in apiTokens where !Self.isTokenHash(token) {
                reader.diagnostics.error(
                    "bad-token-hash", at: location, field: "\(path).apiTokens", "'\(token.prefix(12))…' is not an API token hash",
                    hint: "write 'sha256:' and 64 hex digits, as printed by 'interlock hash-password --new-token'; never the token itself")
            }
            config.users.append(User(
                id: id, name: reader.string(user, "name", what: "a user") ?? id, email: reader.string(user, "email", what: "a user"),
                title: reader.string(user, "title", what: "a user") ?? "approver", roles: roles, sites: sites,
                groups: reader.stringList(user, "groups", what: "user '\(id)'").map(\.0),
                passwordHash: reader.string(user, "passwordHash", what: "a user"), apiTokens: apiTokens.map(\.0)))
        }
        if let node = fields["notifications"], !node.isNull {
            config.notifications = NotificationConfiguration.read(node, users: config.users, reader: reader)
        }
        return (config, reader.diagnostics.sorted)
    }

    /// `sha256:` followed by 64 lowercase hex digits.
    static func isTokenHash(_ text: String) -> Bool {
        guard text.hasPrefix("sha256:") else { return false }
        let hex = text.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
