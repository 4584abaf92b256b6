import ArgumentParser
import Foundation
import InterlockGit
import InterlockModel

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the desired-state repository at a revision and list every problem with file, line and fix.",
        discussion: "Exit code 0 when valid (warnings allowed), 1 when there are errors, 2 when the repository cannot be read."
    )

    @OptionGroup var repository: RepositoryOptions

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let started = Date()
        let (outline, commit) = try repository.readOutline()
        let result: (sites: [(name: String, resources: Int, fingerprint: String)], diagnostics: [Diagnostic])
        do {
            result = try outline.validate()
        } catch {
            Terminal.error("cannot read the desired state from \(repository.source): \(error)")
            throw ExitCode(2)
        }
        let elapsed = Date().timeIntervalSince(started)
        KeptUntilExit.keep(outline)
        let errors = result.diagnostics.filter { $0.severity == .error }
        let warnings = result.diagnostics.count - errors.count
        let resourceCount = result.sites.reduce(0) { $0 + $1.resources }

        if json {
            var object: [String: Value] = [
                "valid": .bool(errors.isEmpty),
                "repository": .string(repository.source.description),
                "revision": .string(repository.worktree ? "worktree" : repository.rev),
                "errors": .int(errors.count),
                "warnings": .int(warnings),
                "sites": .array(result.sites.map { .object(["name": .string($0.name), "resources": .int($0.resources), "fingerprint": .string($0.fingerprint)]) }),
                "components": .int(outline.componentNames.count),
                "flows": .int(outline.flowNames.count),
                "diagnostics": .array(result.diagnostics.map(\.json)),
                "seconds": .double((elapsed * 1000).rounded() / 1000),
            ]
            if let commit { object["commit"] = .string(commit.id.hex) }
            Terminal.printJSON(.object(object))
        } else {
            for diagnostic in result.diagnostics { print(diagnostic.rendered) }
            let at = commit.map { "commit \($0.id.hex.prefix(10)) (\($0.summary))" } ?? "working tree"
            let counts = "\(outline.sites.count) site(s), \(outline.componentNames.count) component(s), \(outline.flowNames.count) flow(s)"
            let time = String(format: "%.2f s", elapsed)
            if errors.isEmpty {
                let warningText = warnings > 0 ? ", \(warnings) warning(s)" : ""
                print("\(Terminal.styled("valid", .green)): \(repository.source) at \(at): \(counts), \(resourceCount) resources\(warningText) [\(time)]")
            } else {
                if !result.diagnostics.isEmpty { print("") }
                print("\(Terminal.styled("invalid", .red)): \(repository.source) at \(at): \(errors.count) error(s), \(warnings) warning(s) in \(Set(errors.map(\.location.file)).count) file(s) [\(time)]")
            }
        }
        if !errors.isEmpty {
            AuditTrail(stateDirectory: repository.stateDirectory, databaseURL: repository.databaseURL).validationFailed(commit: commit, source: repository.source, errors: errors)
            throw ExitCode(1)
        }
    }
}
