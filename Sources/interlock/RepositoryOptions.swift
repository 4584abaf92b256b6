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

    @Option(name: .long, help: ArgumentHelp("The state database (change queue and audit log): postgres://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=CA.pem&passwordfile=FILE] or sqlite:PATH. Default: $INTERLOCK_DATABASE, else database of the instance configuration, else interlock.db in the state directory.", valueName: "url"))
    var database: String?

    @Option(name: .long, help: ArgumentHelp("Seconds a claim on a change holds without renewal; the applier renews it every third of that, and another replica takes a site over only once it expired (2–3600). Default: leaseDuration of the instance configuration, else 30.", valueName: "seconds"))
    var leaseDuration: Int?

    /// The database URL given (option, environment, then `database` of the default instance configuration), if any.
    var databaseURL: String? { StateDirectory.databaseURL(option: database, configured: StateDirectory.configured?.database) }

    func validate() throws {
        if let leaseDuration, !(2...3600).contains(leaseDuration) {
            throw ValidationError("--lease-duration must be between 2 and 3600 seconds")
        }
    }

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
    /// The default instance configuration ($INTERLOCK_CONFIG, else /etc/interlock/interlock.yaml), if it reads.
    static var configured: InstanceConfiguration? {
        let environment = ProcessInfo.processInfo.environment
        let configFile = environment["INTERLOCK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/interlock/interlock.yaml"
        guard let data = FileManager.default.contents(atPath: configFile) else { return nil }
        return InstanceConfiguration.read(data, file: configFile).0
    }

    /// The state database: `--database`, else $INTERLOCK_DATABASE, else `database` of the instance configuration.
    static func databaseURL(option: String?, configured: String?) -> String? {
        option ?? ProcessInfo.processInfo.environment["INTERLOCK_DATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? configured
    }

    static var `default`: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["INTERLOCK_STATE_DIR"], !explicit.isEmpty { return explicit }
        if let configured = configured?.stateDirectory { return configured }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/interlock" }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        return home + "/.local/state/interlock"
    }
}
