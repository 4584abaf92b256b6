import ArgumentParser
import Foundation
import InterlockModel
import InterlockStore

/// `interlock audit …`: read, export and verify the tamper-evident audit log. Never changes a record.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read, export and verify the tamper-evident audit log (who did what, when, why, with what result).",
        discussion: """
            The log is append-only and hash-chained, with checkpoints signed by the Ed25519 key made by \
            'interlock init'. Give auditors 'interlock audit public-key' to keep outside this system; \
            'interlock audit verify --public-key FILE' then proves nothing was altered. See docs/audit.md.
            """,
        subcommands: [AuditLogCommand.self, AuditShowCommand.self, AuditExportCommand.self, AuditVerifyCommand.self, AuditPublicKeyCommand.self, AuditCheckpointCommand.self]
    )
}

struct AuditLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "List audit records as a table, newest last, times in UTC and in the site's local time (or in --timezone)."
    )

    @OptionGroup var state: StateDirectoryOptions
    @OptionGroup var filters: AuditFilterOptions

    @Option(name: .long, help: "Show at most this many of the newest matching records (0: all).")
    var limit: Int = 100

    @Option(name: .long, help: "Also show times in this time zone, e.g. Europe/Berlin (a site's local time).")
    var timezone: String?

    @Flag(name: .long, help: "Print the records as JSON.")
    var json = false

    func run() throws {
        var query = try filters.query()
        let zone = try timezone.map { name in
            guard let zone = TimeZone(identifier: name) else { throw ValidationError("unknown time zone '\(name)' (use an IANA name such as Europe/Berlin)") }
            return zone
        }
        if limit > 0 {
            query.limit = limit
            query.keepNewest = true
        }
        let store = try state.openExistingLog()
        let records: [AuditRecord]
        let total: Int64
        do {
            records = try store.records(matching: query)
            total = try store.count()
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        if json {
            Terminal.printJSON(.object([
                "filter": .string(query.summary), "records": .array(records.map(AuditText.json)), "logSize": .int(Int(total)),
            ]))
            return
        }
        if records.isEmpty {
            print("no audit records match (\(query.summary)); the log holds \(total) record(s)")
            return
        }
        let siteZones = records.contains { $0.details["timezone"] != nil }
        var header = ["SEQ", "TIME (UTC)"]
        if zone != nil || siteZones { header.append(zone == nil ? "SITE LOCAL TIME" : "LOCAL") }
        header += ["ACTOR", "ACTION", "SITE", "CHANGE / PLAN", "RESULT", "REASON / ERROR"]
        let rows = records.map { r -> [String] in
            var row = [String(r.sequence), AuditText.utc(r.timestamp)]
            if let zone {
                row.append(AuditText.local(r.timestamp, in: zone))
            } else if siteZones {
                row.append(r.details["timezone"].flatMap(TimeZone.init(identifier:)).map { AuditText.local(r.timestamp, in: $0) } ?? "-")
            }
            let reference = [r.changeID, r.planID.map { "plan \($0.replacingOccurrences(of: "sha256:", with: "").prefix(12))" }].compactMap { $0 }.joined(separator: " ")
            let note = r.error ?? r.reason ?? ""
            row += [r.actor.id, r.action, r.site ?? "-", reference.isEmpty ? "-" : reference,
                    r.result == .success ? "ok" : Terminal.styled("FAILED", .red), String(note.split(separator: "\n").first ?? "").prefix(60).description]
            return row
        }
        print(Terminal.table(header, rows))
        if query.limit != nil, records.count == limit {
            print(Terminal.styled("showing the newest \(records.count) matching record(s); --limit 0 shows all (log size \(total))", .dim))
        }
    }
}

struct AuditShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one record (by sequence number) or the whole story of a change or plan (by its id), with before/after.",
        discussion: "Exit code 1 when nothing matches."
    )

    @Argument(help: "A sequence number (42) or a change/plan id.")
    var subject: String

    @OptionGroup var state: StateDirectoryOptions

    @Option(name: .long, help: "Also show times in this time zone, e.g. Europe/Berlin.")
    var timezone: String?

    @Flag(name: .long, help: "Print the records as JSON.")
    var json = false

    func run() throws {
        let zone = try timezone.map { name in
            guard let zone = TimeZone(identifier: name) else { throw ValidationError("unknown time zone '\(name)'") }
            return zone
        }
        let store = try state.openExistingLog()
        let records: [AuditRecord]
        do {
            let bySequence = Int64(subject.hasPrefix("#") ? String(subject.dropFirst()) : subject)
            records = try bySequence.map { try store.record(sequence: $0).map { [$0] } ?? [] }
                ?? store.records(matching: AuditQuery(changeOrPlanID: subject))
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        guard !records.isEmpty else {
            Terminal.error("no audit record with sequence number or change/plan id '\(subject)'")
            throw ExitCode(1)
        }
        if json {
            Terminal.printJSON(records.count == 1 && Int64(subject) != nil ? AuditText.json(records[0]) : .array(records.map(AuditText.json)))
            return
        }
        if Int64(subject) == nil {
            print(Terminal.styled("\(subject): \(records.count) record(s), \(AuditText.utc(records.first!.timestamp)) → \(AuditText.utc(records.last!.timestamp))", .bold))
            print("")
        }
        print(records.map { AuditText.describe($0, zone: zone) }.joined(separator: "\n\n"))
    }
}

struct AuditPublicKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "public-key",
        abstract: "Print the public key that verifies audit checkpoints: give it to the auditors to keep outside this system."
    )

    @OptionGroup var state: StateDirectoryOptions

    @Flag(name: .long, help: "Print key id, key and file as JSON.")
    var json = false

    func run() throws {
        let key: AuditPublicKey
        do {
            key = try KeyStore.loadPublicKey(from: state.path)
        } catch {
            Terminal.error("\(error); run 'interlock init' to create the key pair")
            throw ExitCode(2)
        }
        if json {
            Terminal.printJSON(.object([
                "algorithm": .string("ed25519"), "keyID": .string(key.keyID), "publicKey": .string(key.base64),
                "file": .string(KeyStore.publicKeyPath(in: state.path)),
            ]))
        } else {
            print(key.text, terminator: "")
        }
    }
}

struct AuditCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the latest signed checkpoint of the audit log, for an auditor to keep (signs one for the head first if it has none).",
        discussion: """
            The text form (modelled on the C2SP tlog-checkpoint note) names the log size, the head record's hash, the time \
            and the Ed25519 signature. Whoever keeps it proves later, with 'interlock audit verify --checkpoint FILE \
            --public-key KEY', that the log still extends it: a truncated or rewritten log fails. Exit codes: 0 printed, \
            2 no log or key.
            """
    )

    @OptionGroup var state: StateDirectoryOptions

    @Option(name: .long, help: "Write the checkpoint to this file as well.")
    var out: String?

    func run() throws {
        let store = try state.openExistingLog()
        let checkpoint: AuditCheckpoint
        do {
            let head = try store.head()
            if let last = try store.checkpoints().last, last.sequence == (head?.sequence ?? 0) {
                checkpoint = last
            } else if let signed = try KeyStore.checkpointIfKeyed(store, stateDirectory: state.path) {
                checkpoint = signed
            } else {
                Terminal.error("there is no signing key in \(state.path): run 'interlock init' first")
                throw ExitCode(2)
            }
            if let out { try Data(checkpoint.text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        print(checkpoint.text, terminator: "")
    }
}
