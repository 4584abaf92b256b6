import ArgumentParser
import Foundation
import InterlockModel
import InterlockStore

/// `interlock store`: where the audit log lives, and moving it.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Move the audit log between stores (the embedded SQLite file and PostgreSQL).",
        subcommands: [StoreCopyCommand.self]
    )
}

struct StoreCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy the audit log, its signed checkpoints, the instance's settings and the change queue into an empty store.",
        discussion: """
            Every record is copied as it is (sequence, time and hash), so 'interlock audit verify' reports the same head \
            on both stores and the auditors' public key verifies the copy. The source must verify first (a broken log is \
            refused and left as evidence); the target must be empty; the copy is verified against the source's head \
            before the command succeeds. Stop 'interlock serve' first: records appended during the copy are not copied. \
            Example: interlock store copy --from sqlite:/var/lib/interlock/interlock.db \
            --to 'postgres://interlock@db.example.com/interlock?sslmode=verify-full&passwordfile=/etc/interlock/db-password'. \
            Exit codes: 0 copied and verified; 2 nothing copied (the message says why).
            """
    )

    @Option(name: .long, help: ArgumentHelp("The store to copy from: sqlite:PATH or postgres://…", valueName: "url"))
    var from: String

    @Option(name: .long, help: ArgumentHelp("The empty store to copy into: postgres://… or sqlite:PATH (created if missing).", valueName: "url"))
    var to: String

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let report: AuditStoreCopy.Report
        let source: any AuditStore
        let target: any AuditStore
        do {
            let fromURL = try DatabaseURL.parse(from)
            let toURL = try DatabaseURL.parse(to)
            guard fromURL != toURL else { throw ValidationError("--from and --to name the same store") }
            if case .sqlite(let file) = fromURL, !FileManager.default.fileExists(atPath: file) {
                Terminal.error("no audit log at \(file) (--from sqlite:\(file))")
                throw ExitCode(2)
            }
            source = try AuditStores.open(fromURL, migrate: false)
            target = try AuditStores.open(toURL)
            report = try AuditStoreCopy.copy(from: source, to: target) { copied in
                if !json, copied > 0, copied % 100_000 == 0 { Terminal.error("copied \(copied) record(s)…") }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch let invalid as ValidationError {
            throw invalid
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        if json {
            Terminal.printJSON(.object([
                "from": .string(source.location), "to": .string(target.location), "records": .int(Int(report.records)),
                "checkpoints": .int(report.checkpoints), "settings": .int(report.settings),
                "queue": .object(report.queue.mapValues { .int($0) }),
                "headSequence": .int(Int(report.headSequence)), "headHash": .string(report.headHash),
            ]))
        } else {
            print("copied \(report.records) record(s), \(report.checkpoints) checkpoint(s) and \(report.settings) setting(s)")
            let queue = report.queue
            print("  and the change queue: \(queue["change_request"] ?? 0) change(s), \(queue["change_approval"] ?? 0) approval(s), \(queue["rollout_override"] ?? 0) rollout decision(s), \(queue["site_baseline"] ?? 0) site baseline(s)")
            print("  from \(source.location)")
            print("  to   \(target.location)")
            print("verified: both end at head #\(report.headSequence) \(report.headHash)")
        }
    }
}
