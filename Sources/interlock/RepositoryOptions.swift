import ArgumentParser
import Foundation
import InterlockGit
import InterlockModel

/// Options shared by every command that reads the desired-state repository.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: "The desired-state repository: a local path, or a URL that is mirrored into the state directory.")
    var repo: String = "."

    @Option(name: .long, help: "The revision to read: branch, tag, commit id, HEAD~2 …")
    var rev: String = "HEAD"

    @Flag(name: .long, help: "Read the files in --repo as they are on disk instead of a commit (check before committing).")
    var worktree: Bool = false

    @Option(name: .long, help: "State directory (mirrors of remote repositories). Default: $INTERLOCK_STATE_DIR, else stateDirectory of the instance configuration, else $XDG_STATE_HOME/interlock, else ~/.local/state/interlock.")
    var stateDir: String?

    @Option(name: .long, help: ArgumentHelp("The state database (change queue and audit log): postgres://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=CA.pem&passwordfile=FILE] or sqlite:PATH. Default: $INTERLOCK_DATABASE, else interlock.db in the state directory.", valueName: "url"))
    var database: String?

    /// The database URL given (option, then environment), if any.
    var databaseURL: String? { database ?? ProcessInfo.processInfo.environment["INTERLOCK_DATABASE"].flatMap { $0.isEmpty ? nil : $0 } }

    var stateDirectory: String { stateDir ?? StateDirectory.default }

    var source: RepositorySource { RepositorySource(repo, workTree: worktree) }

    /// The outline of the desired state (see `DesiredStateOutline`), for commands that work site by site.
    func readOutline(failureCode: Int32 = 2) throws -> (outline: DesiredStateOutline, commit: CommitInfo?) {
        do {
            return try source.readOutline(revision: rev, stateDirectory: stateDirectory)
        } catch {
            Terminal.error("cannot read the desired state from \(source): \(error)")
            throw ExitCode(failureCode)
        }
    }

    /// The directory relative command-driver programs resolve against: a local repository's directory.
    var driverDirectory: String? {
        if case .remote = source { return nil }
        return repo
    }
}

enum StateDirectory {
    static var `default`: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["INTERLOCK_STATE_DIR"], !explicit.isEmpty { return explicit }
        let configFile = environment["INTERLOCK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/interlock/interlock.yaml"
        if let data = FileManager.default.contents(atPath: configFile),
           let configured = InstanceConfiguration.read(data, file: configFile).0?.stateDirectory {
            return configured
        }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/interlock" }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        return home + "/.local/state/interlock"
    }
}
