import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

/// `--state-dir` for the commands that use the audit log and its keys, and `--database` for where the log is.
struct StateDirectoryOptions: ParsableArguments {
    @Option(name: .long, help: "State directory (audit database, signing key). Default: $INTERLOCK_STATE_DIR, else stateDirectory of the instance configuration, else $XDG_STATE_HOME/interlock, else ~/.local/state/interlock.")
    var stateDir: String?

    @Option(name: .long, help: ArgumentHelp("The audit log's database: postgres://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=CA.pem&passwordfile=FILE] or sqlite:PATH. Default: $INTERLOCK_DATABASE, else database of the instance configuration, else interlock.db in the state directory. The password comes from the URL, passwordfile= or $PGPASSWORD.", valueName: "url"))
    var database: String?

    var path: String { stateDir ?? StateDirectory.default }
    var databasePath: String { path + "/" + SQLiteStore.fileName }

    /// The database URL given (option, then environment), if any.
    var databaseURL: String? { StateDirectory.databaseURL(option: database, configured: StateDirectory.configured?.database) }

    /// Opens the existing audit log; exit 2 with a hint when there is none (reading never creates one).
    func openExistingLog() throws -> any AuditStore {
        do {
            if let text = databaseURL {
                let url = try DatabaseURL.parse(text)
                if case .sqlite(let file) = url, !FileManager.default.fileExists(atPath: file) {
                    Terminal.error("no audit log at \(file) (--database sqlite:\(file))")
                    throw ExitCode(2)
                }
                return try AuditStores.open(url, migrate: false)
            }
            guard FileManager.default.fileExists(atPath: databasePath) else {
                Terminal.error("no audit log at \(databasePath); run 'interlock init\(stateDir.map { " --state-dir \($0)" } ?? "")' first")
                throw ExitCode(2)
            }
            return try SQLiteStore(stateDirectory: path)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
    }
}

/// The filters shared by `audit log` and `audit export`.
struct AuditFilterOptions: ParsableArguments {
    @Option(name: .long, help: "Only records of this site.")
    var site: String?

    @Option(name: .long, help: "Only records by this actor (user id or printed name).")
    var actor: String?

    @Option(name: .long, help: "Only this action; 'plan.*' or 'plan.' for every action starting with 'plan.'.")
    var action: String?

    @Option(name: .long, help: "Only this category: \(AuditCategory.allCases.map(\.rawValue).joined(separator: ", ")).")
    var category: String?

    @Option(name: .long, help: "Only records of this change request or plan id.")
    var change: String?

    @Option(name: .long, help: "From this time on: 2026-03-01, 2026-03-01T12:00[:00][Z] (UTC), or relative: 30m, 24h, 7d, 2w.")
    var since: String?

    @Option(name: .long, help: "Before this time (a date alone means the end of that day, UTC); same forms as --since.")
    var until: String?

    func query(now: Date = Date()) throws -> AuditQuery {
        var query = AuditQuery(site: site, actor: actor, changeOrPlanID: change)
        if let action { query.action = .parse(action) }
        if let category {
            guard let value = AuditCategory(rawValue: category) else {
                throw ValidationError("unknown category '\(category)'; one of \(AuditCategory.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.category = value
        }
        if let since { query.since = try AuditTimeArgument.parse(since, option: "--since", now: now, endOfDay: false) }
        if let until { query.until = try AuditTimeArgument.parse(until, option: "--until", now: now, endOfDay: true) }
        return query
    }
}

/// Reads `--since`/`--until`: ISO-8601 dates or date-times in UTC, or a span back from now.
enum AuditTimeArgument {
    static func parse(_ text: String, option: String, now: Date, endOfDay: Bool) throws -> Date {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        if let unit = text.last, let seconds = units[unit], let amount = Double(text.dropLast()), amount >= 0 {
            return now.addingTimeInterval(-amount * seconds)
        }
        var candidate = text
        if candidate.count == 10 {  // a date alone
            candidate += "T00:00:00Z"
            guard let date = AuditTimestamp.parse(candidate) else { throw invalid(text, option) }
            return endOfDay ? date.addingTimeInterval(86400) : date
        }
        if !candidate.hasSuffix("Z") && !candidate.hasSuffix("+00:00") { candidate += "Z" }
        if candidate.count == 17 { candidate.insert(contentsOf: ":00", at: candidate.index(candidate.startIndex, offsetBy: 16)) }  // yyyy-MM-ddTHH:mmZ
        guard let date = AuditTimestamp.parse(candidate) else { throw invalid(text, option) }
        return date
    }

    private static func invalid(_ text: String, _ option: String) -> ValidationError {
        ValidationError("\(option) '\(text)' is not a time: use 2026-03-01, 2026-03-01T12:00, 2026-03-01T12:00:00Z (UTC), or 30m, 24h, 7d, 2w")
    }
}

/// Who runs the command, as the audit log records it: the operating-system user.
enum CommandActor {
    /// The account the process runs as, from the operating system (not from `$USER`, which anyone can set).
    static var current: AuditActor {
        var user = "uid-\(geteuid())"
        var name = user
        if let entry = getpwuid(geteuid()) {
            user = String(cString: entry.pointee.pw_name)
            let gecos = entry.pointee.pw_gecos.map { String(cString: $0).split(separator: ",").first.map(String.init) ?? "" } ?? ""
            name = gecos.isEmpty ? user : gecos
        }
        return AuditActor(id: user, name: name, role: "operator", authentication: "os-user")
    }
}

/// Renders records and checkpoints for people and as JSON.
enum AuditText {
    static func utc(_ date: Date) -> String {
        let text = AuditTimestamp.format(date)  // 2026-03-01T12:00:00.123Z
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(8)) + "Z"
    }

    /// `2026-11-28 23:00:00 CET`: the plant's wall time with the zone's abbreviation, as everywhere else (never
    /// `GMT+1`).
    static func local(_ date: Date, in zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date) + " " + SiteTimeZone(zone).abbreviation(at: date)
    }

    static func json(_ r: AuditRecord) -> Value {
        func optional(_ s: String?) -> Value { s.map(Value.string) ?? .null }
        return .object([
            "sequence": .int(Int(r.sequence)), "id": .string(r.id), "timestamp": .string(r.timestampText),
            "actor": .object(["id": .string(r.actor.id), "name": .string(r.actor.name), "role": .string(r.actor.role), "authentication": .string(r.actor.authentication)]),
            "source": .object(["host": .string(r.source.host), "process": .string(r.source.process), "pid": .int(Int(r.source.pid))]),
            "category": .string(r.category.rawValue), "action": .string(r.action), "site": optional(r.site), "resource": optional(r.resource),
            "changeID": optional(r.changeID), "planID": optional(r.planID), "commit": optional(r.commit), "before": optional(r.before),
            "after": optional(r.after), "reason": optional(r.reason), "result": .string(r.result.rawValue), "error": optional(r.error),
            "details": .object(r.details.mapValues(Value.string)), "previousHash": .string(r.previousHash), "hash": .string(r.hash),
        ])
    }

    static func json(_ c: AuditCheckpoint) -> Value {
        .object(["sequence": .int(Int(c.sequence)), "headHash": .string(c.headHash), "timestamp": .string(AuditTimestamp.format(c.timestamp)),
                 "keyID": .string(c.keyID), "signature": .string(c.signature)])
    }

    /// One record, every field on its own line; before/after side by side with the reason.
    static func describe(_ r: AuditRecord, zone: TimeZone?) -> String {
        var lines: [String] = []
        let status = r.result == .success ? Terminal.styled("success", .green) : Terminal.styled("failure", .red)
        lines.append("\(Terminal.styled("#\(r.sequence)", .bold))  \(Terminal.styled(r.action, .bold))  \(status)")
        var time = "  time      \(utc(r.timestamp))"
        if let zone = zone ?? r.details["timezone"].flatMap(TimeZone.init(identifier:)) {
            time += "   (\(local(r.timestamp, in: zone)))"
        }
        lines.append(time)
        lines.append("  actor     \(r.actor.name) (\(r.actor.id)), \(r.actor.role), authenticated by \(r.actor.authentication)")
        lines.append("  category  \(r.category.rawValue)")
        for (label, value) in [("site", r.site), ("resource", r.resource), ("change", r.changeID), ("plan", r.planID), ("commit", r.commit)] {
            if let value { lines.append("  \(label.padding(toLength: 9, withPad: " ", startingAt: 0)) \(value)") }
        }
        if r.before != nil || r.after != nil {
            lines.append("  before    \(indent(r.before ?? "(none)"))")
            lines.append("  after     \(indent(r.after ?? "(none)"))")
        }
        if let reason = r.reason { lines.append("  reason    \(indent(reason))") }
        if let error = r.error { lines.append("  error     \(Terminal.styled(indent(error), .red))") }
        for key in r.details.keys.sorted() { lines.append("  \(Terminal.styled(key, .dim)) = \(r.details[key]!)") }
        lines.append("  source    \(r.source.process)[\(r.source.pid)] on \(r.source.host)")
        lines.append("  id        \(r.id)")
        lines.append(Terminal.styled("  hash      \(r.hash)", .dim))
        lines.append(Terminal.styled("  previous  \(r.previousHash)", .dim))
        return lines.joined(separator: "\n")
    }

    private static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n            ")
    }
}
