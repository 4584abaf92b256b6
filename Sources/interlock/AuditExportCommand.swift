import ArgumentParser
import Foundation
import InterlockModel
import InterlockStore

struct AuditExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write audit records (with their hashes) and all checkpoints to a CSV or JSON Lines file for auditors.",
        discussion: """
            An unfiltered export can be verified on its own: 'interlock audit verify --export FILE'. A filtered \
            export (any filter) verifies each record and the runs of consecutive records it holds, and says \
            that it cannot prove the whole chain. The export itself is recorded in the log (audit.exported).
            """
    )

    @OptionGroup var state: StateDirectoryOptions
    @OptionGroup var filters: AuditFilterOptions

    @Option(name: .long, help: "csv or jsonl.")
    var format: String

    @Option(name: .long, help: "The file to write (replaced if it exists).")
    var out: String

    func run() throws {
        guard let format = AuditExportFormat(rawValue: format.lowercased()) else {
            throw ValidationError("--format must be csv or jsonl, not '\(format)'")
        }
        let query = try filters.query()
        let store = try state.openExistingLog()
        let count: Int
        do {
            count = try store.export(matching: query, format: format, to: out)
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        let scope = query.selectsEverything ? "the whole log" : "filtered: \(query.summary)"
        print("wrote \(count) record(s) and the checkpoints to \(out) (\(format.rawValue), \(scope))")
        do {
            _ = try store.append(AuditEntry(
                actor: CommandActor.current, category: .auditLog, action: "audit.exported",
                details: ["format": format.rawValue, "filter": query.summary, "records": String(count), "file": out]))
        } catch {
            FileHandle.standardError.write(Data("\(Terminal.styled("warning:", .yellow, stderr: true)) the export was not recorded in the audit log: \(error)\n".utf8))
        }
    }
}
