import ArgumentParser
import Foundation

/// The `interlock` command line: parses arguments, calls the library, prints.
@main
struct Interlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interlock",
        abstract: "A gated GitOps reconciler for factory floors: desired state in git, changes applied only with approval and in maintenance windows.",
        discussion: """
            Exit codes: 0 success; 1 the desired state has problems (validate) or a command found what it \
            reports; 2 the repository or a file could not be read; 64 wrong usage.
            """,
        version: InterlockVersion.current,
        subcommands: [
            ValidateCommand.self, SitesCommand.self, ShowCommand.self, PlanCommand.self, StatusCommand.self, ApplyCommand.self,
            QueueCommand.self, WindowsCommand.self, ApproveCommand.self, RejectCommand.self, ReconcileCommand.self, RunCommand.self,
            RolloutCommand.self, CompareCommand.self, AgentCommand.self, NotificationsCommand.self,
            InitCommand.self, AuditCommand.self, StoreCommand.self, ServeCommand.self, SignerCommand.self, HashPasswordCommand.self,
        ]
    )

    static func main() {
        Rehearsal.begin()
        main(nil)
    }
}

enum InterlockVersion {
    static let current = "0.1.0"
}
