import Foundation

extension Site {
    static let fields = [
        "name", "displayName", "description", "timezone", "target", "windows", "minimumWindowRemaining", "freezes", "approval", "policy",
        "values", "components", "flows",
    ]

    /// Reads `sites/<directory>/site.yaml`; names of components and flows are checked by the loader.
    static func read(_ node: YAMLNode, directory: String, file: String, reader: FieldReader) -> Site? {
        let what = "the site"
        guard let fields = reader.mapping(node, path: "", allowed: Site.fields, what: what) else { return nil }
        let name = reader.string(fields, "name", required: true, what: what, hint: "add 'name: \(directory)'") ?? directory
        if name != directory {
            reader.diagnostics.error(
                "site-name-mismatch", at: fields["name"]?.location ?? node.location, field: "name",
                "the site is named '\(name)' but lives in sites/\(directory)/", hint: "make 'name' equal the directory name '\(directory)'")
        }
        checkIdentifier(name, at: fields["name"]?.location ?? node.location, field: "name", what: "site name", reader: reader)

        let timezone = reader.string(fields, "timezone", required: true, what: what, hint: "add an IANA time zone, e.g. 'timezone: Europe/Berlin'") ?? "UTC"
        if fields["timezone"] != nil, !TimeZones.isKnown(timezone) {
            var hint = "use an IANA time-zone name such as Europe/Berlin or America/New_York"
            if let guess = TimeZones.closest(to: timezone) { hint = "did you mean '\(guess)'? (\(hint))" }
            reader.diagnostics.error(
                "unknown-timezone", at: fields["timezone"]!.location, field: "timezone",
                "'\(timezone)' is not a known IANA time zone", hint: hint)
        }

        let policy = readPolicy(fields, reader: reader)
        let needsApproval = policy.isEmpty || policy.contains { $0.gate == .approval || $0.gate == .approvalAndWindow }
            || !policy.contains { $0.match == "*" }
        if fields["approval"] == nil, needsApproval {
            reader.diagnostics.error(
                "no-approvers", at: node.location, field: "approval",
                "changes at this site can need an approval (gate policy), but the site names no approvers",
                hint: "add 'approval: { required: 1, approvers: [<user id or group:name>] }', or a policy that never asks for approval")
        }
        var site = Site(
            name: name,
            displayName: reader.string(fields, "displayName", what: what) ?? name,
            description: reader.string(fields, "description", what: what),
            timezone: timezone,
            target: readTarget(fields, reader: reader) ?? .files(root: name),
            windows: readWindows(fields, reader: reader),
            minimumWindowRemaining: reader.duration(fields, "minimumWindowRemaining", what: what) ?? Site.defaultMinimumWindowRemaining,
            freezes: readFreezes(fields, reader: reader),
            approval: readApproval(fields, reader: reader),
            policy: policy,
            values: reader.freeMap(fields, "values")?.value ?? .object([:]),
            components: readNames(fields, "components", reader: reader),
            flows: readNames(fields, "flows", reader: reader),
            file: file)
        site.reach = readReach(fields, reader: reader)
        if site.reach == .agent, case .command = site.target, let via = fields["target"]?.pairs?.first(where: { $0.key == "via" })?.value {
            reader.diagnostics.error(
                "bad-target-via", at: via.location, field: "target.via", "'via: agent' works with the files driver only",
                hint: "use 'driver: files' with the directory the plant software reads, or leave 'via' out")
        }
        return site
    }

    /// `target.via`: `server` (the default) or `agent`.
    private static func readReach(_ fields: FieldReader.Fields, reader: FieldReader) -> Reach {
        guard let node = fields["target"], let target = node.pairs, let via = target.first(where: { $0.key == "via" })?.value else { return .server }
        guard let text = reader.string(via, field: "target.via", acceptScalars: false) else { return .server }
        guard let reach = Reach(rawValue: text) else {
            reader.diagnostics.error(
                "bad-target-via", at: via.location, field: "target.via", "'\(text)' is not a way to reach a target",
                hint: "use 'via: agent' for a plant reached through its agent, or leave 'via' out (the server reaches it)")
            return .server
        }
        return reach
    }

    static func checkIdentifier(_ name: String, at location: SourceLocation, field: String, what: String, reader: FieldReader) {
        let valid = !name.isEmpty && name.utf8.count <= 63
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
            && !name.hasPrefix("-")
        if !valid {
            reader.diagnostics.error(
                "bad-name", at: location, field: field, "'\(name)' is not a valid \(what)",
                hint: "use lower-case letters, digits and '-', starting with a letter or digit")
        }
    }

    private static func readTarget(_ fields: FieldReader.Fields, reader: FieldReader) -> Target? {
        guard let node = fields["target"], !node.isNull else {
            reader.missing(fields, "target", what: "the site", hint: "add e.g. 'target: { driver: files, root: /srv/plant-a }'")
            return nil
        }
        guard let target = reader.mapping(node, path: "target", allowed: ["driver", "root", "command", "timeout", "env", "via"], what: "the target")
        else { return nil }
        let driver = reader.string(target, "driver", required: true, what: "the target", hint: "add 'driver: files' or 'driver: command'")
        switch driver {
        case "files":
            for key in ["command", "timeout", "env"] where target[key] != nil {
                reader.diagnostics.error(
                    "field-not-for-driver", at: target[key]!.location, field: "target.\(key)",
                    "'\(key)' does not apply to the files driver", hint: "remove it, or use 'driver: command'")
            }
            guard let root = reader.string(target, "root", required: true, what: "a files target", hint: "add 'root: <directory the plant software reads>'")
            else { return nil }
            if root.isEmpty {
                reader.diagnostics.error("bad-target-root", at: target["root"]!.location, field: "target.root", "the root directory is empty", hint: "name a directory")
            }
            return .files(root: root)
        case "command":
            if target["root"] != nil {
                reader.diagnostics.error(
                    "field-not-for-driver", at: target["root"]!.location, field: "target.root",
                    "'root' does not apply to the command driver", hint: "remove it, or use 'driver: files'")
            }
            guard let spec = readCommand(target, reader: reader, what: "a command target", required: true) else { return nil }
            var env: [String: String] = [:]
            if let envNode = reader.freeMap(target, "env") {
                for pair in envNode.pairs ?? [] {
                    if let text = reader.string(pair.value, field: "target.env.\(pair.key)", acceptScalars: true) { env[pair.key] = text }
                }
            }
            return .command(CommandSpec(arguments: spec.arguments, timeout: spec.timeout, environment: env))
        case nil:
            return nil
        case let other?:
            reader.diagnostics.error(
                "unknown-driver", at: target["driver"]!.location, field: "target.driver",
                "unknown driver '\(other)'", hint: "use 'files' or 'command'")
            return nil
        }
    }

    /// Reads `command` (a non-empty list of arguments) and `timeout` from a map.
    static func readCommand(_ fields: FieldReader.Fields, reader: FieldReader, what: String, required: Bool) -> CommandSpec? {
        let arguments = reader.stringList(fields, "command", required: required, what: what, hint: "add 'command: [program, arg, …]'")
        if fields["command"] != nil, !(fields["command"]?.isNull ?? true), arguments.isEmpty, fields["command"]?.items != nil {
            reader.diagnostics.error(
                "empty-command", at: fields["command"]!.location, field: fields.field("command"),
                "the command is empty", hint: "name the program to run and its arguments")
        }
        guard !arguments.isEmpty else { return nil }
        return CommandSpec(arguments: arguments.map(\.0), timeout: reader.duration(fields, "timeout", what: what))
    }

    private static func readWindows(_ fields: FieldReader.Fields, reader: FieldReader) -> [MaintenanceWindow] {
        var windows: [MaintenanceWindow] = []
        var seen = Set<String>()
        for (index, node) in reader.list(fields, "windows", what: "the site").enumerated() {
            let path = "windows[\(index)]"
            let what = "a maintenance window"
            guard let window = reader.mapping(node, path: path, allowed: ["name", "start", "duration"], what: what) else { continue }
            let name = reader.string(window, "name", required: true, what: what, hint: "name the window, e.g. 'name: weekend'") ?? "window-\(index + 1)"
            if !seen.insert(name).inserted {
                reader.diagnostics.error("duplicate-window", at: node.location, field: "\(path).name", "the window name '\(name)' is used twice", hint: "give each window its own name")
            }
            var cron: CronExpression?
            if let start = reader.string(window, "start", required: true, what: what, hint: "add a cron start, e.g. start: \"0 22 * * SAT\"") {
                do {
                    cron = try CronExpression(parsing: start)
                } catch {
                    reader.diagnostics.error(
                        "bad-cron", at: window["start"]!.location, field: "\(path).start",
                        "'\(start)' is not a valid cron expression: \(error)",
                        hint: "write 'minute hour day-of-month month day-of-week', e.g. \"0 22 * * SAT\"")
                }
            }
            let duration = reader.duration(window, "duration", required: true, what: what)
            if let duration, duration.seconds > 7 * 86_400 {
                reader.diagnostics.error(
                    "bad-duration", at: window["duration"]!.location, field: "\(path).duration",
                    "a maintenance window of \(duration) is longer than a week", hint: "use a duration of at most 7d")
            }
            if let cron, let duration { windows.append(MaintenanceWindow(name: name, start: cron, duration: duration)) }
        }
        return windows
    }

    private static func readFreezes(_ fields: FieldReader.Fields, reader: FieldReader) -> [Freeze] {
        var freezes: [Freeze] = []
        for (index, node) in reader.list(fields, "freezes", what: "the site").enumerated() {
            let path = "freezes[\(index)]"
            let what = "a freeze"
            guard let freeze = reader.mapping(node, path: path, allowed: ["name", "from", "to", "reason"], what: what) else { continue }
            let name = reader.string(freeze, "name", required: true, what: what, hint: "name the freeze, e.g. 'name: year-end'") ?? "freeze-\(index + 1)"
            func moment(_ key: String) -> LocalDateTime? {
                guard let text = reader.string(freeze, key, required: true, what: what, hint: "add '\(key): YYYY-MM-DD'", acceptScalars: true) else { return nil }
                do { return try LocalDateTime(parsing: text) } catch {
                    reader.diagnostics.error(
                        "bad-date", at: freeze[key]!.location, field: "\(path).\(key)", "'\(text)' is not a valid date",
                        hint: "write YYYY-MM-DD or YYYY-MM-DDTHH:MM (plant-local time)")
                    return nil
                }
            }
            let from = moment("from"), to = moment("to")
            if let from, let to {
                if to.isDateOnly ? (to.year, to.month, to.day) < (from.year, from.month, from.day) : to < from {
                    reader.diagnostics.error(
                        "freeze-backwards", at: freeze["to"]!.location, field: "\(path).to",
                        "the freeze '\(name)' ends (\(to)) before it starts (\(from))", hint: "swap 'from' and 'to'")
                } else {
                    freezes.append(Freeze(name: name, from: from, to: to, reason: reader.string(freeze, "reason", what: what)))
                }
            }
        }
        return freezes
    }

    private static func readApproval(_ fields: FieldReader.Fields, reader: FieldReader) -> ApprovalPolicy {
        var policy = ApprovalPolicy()
        guard let node = fields["approval"], !node.isNull,
              let approval = reader.mapping(node, path: "approval", allowed: ["required", "approvers", "allowAuthor"], what: "the approval policy")
        else { return policy }
        if let required = reader.int(approval, "required", what: "the approval policy") {
            if required < 0 {
                reader.diagnostics.error("bad-approval", at: approval["required"]!.location, field: "approval.required", "required approvals cannot be negative", hint: "use 0 or more")
            }
            policy.required = max(0, required)
        }
        var seen = Set<String>()
        for (approver, location) in reader.stringList(approval, "approvers", what: "the approval policy") {
            let user = approver.hasPrefix("group:") ? String(approver.dropFirst(6)) : approver
            let valid = !user.isEmpty && user.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "-_.@".unicodeScalars.contains($0)
            }
            if !valid {
                reader.diagnostics.error(
                    "bad-approver", at: location, field: "approval.approvers", "'\(approver)' is not a valid user id or group",
                    hint: "write a user id (letters, digits, - _ . @) or group:<name>")
            } else if !seen.insert(approver).inserted {
                reader.diagnostics.error("duplicate-approver", at: location, field: "approval.approvers", "'\(approver)' is listed twice", hint: "list each approver once")
            }
            policy.approvers.append(approver)
        }
        policy.allowAuthor = reader.bool(approval, "allowAuthor") ?? false
        let hasGroups = policy.approvers.contains { $0.hasPrefix("group:") }
        if policy.required > 0, policy.approvers.isEmpty {
            reader.diagnostics.error(
                "no-approvers", at: node.location, field: "approval.approvers",
                "\(policy.required) approval(s) required but nobody may approve", hint: "list approvers, or set 'required: 0'")
        } else if !hasGroups, policy.required > policy.approvers.count {
            reader.diagnostics.error(
                "too-few-approvers", at: approval["required"]?.location ?? node.location, field: "approval.required",
                "\(policy.required) distinct approvals required but only \(policy.approvers.count) approver(s) listed",
                hint: "list more approvers or lower 'required'")
        }
        return policy
    }

    private static func readPolicy(_ fields: FieldReader.Fields, reader: FieldReader) -> [GateRule] {
        var rules: [GateRule] = []
        for (index, node) in reader.list(fields, "policy", what: "the site").enumerated() {
            let path = "policy[\(index)]"
            let what = "a policy rule"
            guard let rule = reader.mapping(node, path: path, allowed: ["match", "gate"], what: what) else { continue }
            let match = reader.string(rule, "match", required: true, what: what, hint: "add a resource pattern, e.g. match: \"flows/*\"")
            if let match, match.isEmpty || !Glob(match).isWellFormed {
                reader.diagnostics.error("bad-pattern", at: rule["match"]!.location, field: "\(path).match", "'\(match)' is not a valid pattern", hint: "use * ? and [..] classes, e.g. \"components/dashboard-*\"")
            }
            let gateText = reader.string(rule, "gate", required: true, what: what, hint: "add 'gate: approval+window'")
            var gate: Gate?
            if let gateText {
                gate = Gate(rawValue: gateText)
                if gate == nil {
                    reader.diagnostics.error(
                        "unknown-gate", at: rule["gate"]!.location, field: "\(path).gate", "unknown gate '\(gateText)'",
                        hint: "use one of: \(Gate.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            if let match, let gate { rules.append(GateRule(match: match, gate: gate)) }
        }
        return rules
    }

    private static func readNames(_ fields: FieldReader.Fields, _ key: String, reader: FieldReader) -> [String] {
        var names: [String] = []
        for (name, location) in reader.stringList(fields, key, what: "the site") {
            if names.contains(name) {
                reader.diagnostics.error("duplicate-name", at: location, field: key, "'\(name)' is listed twice", hint: "list it once")
                continue
            }
            names.append(name)
        }
        return names
    }
}

/// The IANA time zones this machine knows.
enum TimeZones {
    /// ICU's canonical list: it names some zones by their older spelling (`Asia/Calcutta`, not `Asia/Kolkata`).
    static let known: Set<String> = Set(TimeZone.knownTimeZoneIdentifiers).union(["UTC", "Etc/UTC", "GMT"])

    /// A canonical zone, or any other IANA `Area/Location` name this machine resolves — current spellings missing
    /// from the canonical list (`Asia/Kolkata`, `Europe/Kyiv`) and the database's aliases (`US/Eastern`).
    /// Abbreviations and offsets (`EST`, `GMT+5`) are not IANA zone names and stay unknown.
    static func isKnown(_ identifier: String) -> Bool {
        if known.contains(identifier) { return TimeZone(identifier: identifier) != nil }
        guard let first = identifier.unicodeScalars.first, ("A"..."Z").contains(first), identifier.contains("/") else { return false }
        return TimeZone(identifier: identifier) != nil
    }

    static func closest(to identifier: String) -> String? {
        Spelling.closest(to: identifier, in: Array(known))
    }
}
