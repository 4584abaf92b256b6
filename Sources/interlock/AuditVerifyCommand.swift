import ArgumentParser
import Foundation
import InterlockModel
import InterlockStore

struct AuditVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the hash chain and check every checkpoint signature, in the database or in an export file.",
        discussion: """
            Prints the record count, head hash and last checkpoint; on failure names the first bad record and why \
            (hash mismatch, gap in sequence, time going backwards, bad signature, truncated tail) and exits 1. \
            Pass --public-key with the auditors' own copy of the key: without it the key stored next to the log \
            is used, which proves only that log and key agree. With --public-key, a log without checkpoints, or with \
            more than --max-unanchored records after its last valid checkpoint, fails. --checkpoint FILE (a checkpoint \
            kept outside the system) proves that the log still extends it: a log truncated before it, or rewritten up \
            to it, fails — even if the checkpoints in the database were deleted or re-signed along with it. Exit codes: 0 verified, 1 problems found, \
            2 the log, export or key could not be read.
            """
    )

    @OptionGroup var state: StateDirectoryOptions

    @Option(name: .long, help: "Verify this export file (CSV or JSON Lines) instead of the database.")
    var export: String?

    @Option(name: .long, help: "The public key file kept outside this system (audit-signing.pub or PEM). Repeatable: after a rotation whose old key was lost, give the old and the new key. A rotation the old key endorsed is followed without the new key.")
    var publicKey: [String] = []

    @Option(name: .long, help: "A checkpoint an auditor kept ('interlock audit checkpoint'): the log must still extend it. Repeatable.")
    var checkpoint: [String] = []

    @Option(name: .long, help: "With --public-key: fail when more records than this follow the last valid checkpoint.")
    var maxUnanchored: Int = 100

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let trust: CheckpointTrust
        do {
            if publicKey.count == 1 {
                trust = .external(try KeyStore.loadPublicKey(file: publicKey[0]))
            } else if !publicKey.isEmpty {
                trust = .externalKeys(try publicKey.map { try KeyStore.loadPublicKey(file: $0) })
            } else if FileManager.default.fileExists(atPath: KeyStore.publicKeyPath(in: state.path)) {
                trust = .local(try KeyStore.loadPublicKey(from: state.path))
            } else {
                trust = .none
            }
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }
        var kept: [AuditCheckpoint] = []
        for file in checkpoint {
            do {
                kept.append(try AuditCheckpoint(text: try String(contentsOfFile: file, encoding: .utf8)))
            } catch {
                Terminal.error("\(file): \(error)")
                throw ExitCode(2)
            }
        }
        var result: AuditVerification
        let subject: String
        do {
            if let export {
                subject = export
                result = try AuditExportReader.read(path: export).verify(trust: trust, keptCheckpoints: kept)
            } else {
                let store = try state.openExistingLog()
                subject = store.location
                result = try store.verify(trust: trust, keptCheckpoints: kept)
            }
            if trust.isExternal { result.requireAnchoring(maximumUnanchored: Int64(maxUnanchored)) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(2)
        }

        if json {
            var object: [String: Value] = [
                "ok": .bool(result.ok), "subject": .string(subject), "records": .int(result.recordCount),
                "lastSequence": .int(Int(result.lastSequence)), "headHash": .string(result.headHash),
                "checkpoints": .int(result.checkpointCount), "anchored": .bool(result.anchored), "complete": .bool(result.complete),
                "uncheckpointedRecords": .int(Int(result.uncheckpointedRecords)), "problemCount": .int(result.problemCount),
                "problems": .array(result.problems.map { .object(["sequence": .int(Int($0.sequence)), "kind": .string($0.kind.rawValue), "message": .string($0.message)]) }),
                "notes": .array(result.notes.map(Value.string)),
            ]
            object["lastCheckpoint"] = result.lastCheckpoint.map(AuditText.json) ?? .null
            Terminal.printJSON(.object(object))
        } else if let first = result.firstProblem {
            print("\(Terminal.styled("FAILED", .red)): \(subject): first bad record \(Terminal.styled("#\(first.sequence)", .bold)): \(first.kind.rawValue)")
            print("  \(first.message)")
            let others = result.problems.dropFirst().prefix(9)
            if !others.isEmpty {
                print("")
                print("further problems (\(result.problemCount - 1) in all):")
                for problem in others { print("  #\(problem.sequence) \(problem.kind.rawValue): \(problem.message)") }
            }
            for note in result.notes { print(Terminal.styled("note: \(note)", .yellow)) }
        } else {
            let status = result.complete ? (result.anchored ? "verified" : "verified (not anchored)") : "verified PARTIALLY"
            print("\(Terminal.styled(status, result.anchored && result.complete ? .green : .yellow)): \(subject): \(result.recordCount) record(s), head #\(result.lastSequence) \(result.headHash)")
            if let checkpoint = result.lastCheckpoint {
                print("last checkpoint: #\(checkpoint.sequence) at \(AuditText.utc(checkpoint.timestamp)), key \(checkpoint.keyID), \(result.checkpointCount) checkpoint(s) in all")
            } else {
                print("no valid checkpoint")
            }
            for note in result.notes { print(Terminal.styled("note: \(note)", .yellow)) }
        }
        if !result.ok { throw ExitCode(1) }
    }
}
