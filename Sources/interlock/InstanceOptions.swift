import ArgumentParser
import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel
import InterlockStore
import Crypto

/// The instance configuration (`--config`) and what it provides: users, repository, directories.
struct InstanceOptions: ParsableArguments {
    @Option(name: .long, help: "Instance configuration file. Default: $INTERLOCK_CONFIG, else /etc/interlock/interlock.yaml when it exists.")
    var config: String?

    /// The configuration, or an empty one when no file is named and the default does not exist.
    func load() throws -> InstanceConfiguration { try Self.load(config) }

    /// The configuration file `config` names, else the default one (see `--config`).
    static func load(_ config: String?) throws -> InstanceConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["INTERLOCK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.fileExists(atPath: "/etc/interlock/interlock.yaml") ? "/etc/interlock/interlock.yaml" : nil)
        guard let path else { return InstanceConfiguration() }
        // One open file: the bytes parsed are the bytes whose digest and file identity are checked against the
        // configuration the state directory trusts (no second read a swapped link could answer).
        // Non-blocking: a FIFO named as the configuration is refused below instead of waiting for a writer.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            Terminal.error("cannot read the instance configuration \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= 4 * 1024 * 1024,
              let data = try? handle.readToEnd() ?? Data() else {
            Terminal.error("cannot read the instance configuration \(path): not a regular file of at most 4 MiB")
            throw ExitCode(2)
        }
        let opened = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)"))
            ?? URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        var (configuration, diagnostics) = InstanceConfiguration.read(data, file: path)
        let errors = diagnostics.filter { $0.severity == .error }
        guard configuration != nil, errors.isEmpty else {
            for diagnostic in errors { FileHandle.standardError.write(Data((diagnostic.rendered + "\n").utf8)) }
            Terminal.error("the instance configuration \(path) has \(errors.count) problem(s)")
            throw ExitCode(2)
        }
        configuration!.origin = InstanceConfiguration.Origin(
            path: opened, sha256: SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined(),
            // Writable by others, or owned by someone other than root or the account running Interlock.
            writableByOthers: info.st_mode & 0o022 != 0 || (info.st_uid != 0 && info.st_uid != geteuid()))
        return configuration!
    }
}

/// Everything a queue command needs, resolved once: configuration, repository, state, planning, store.
struct QueueContext {
    let configuration: InstanceConfiguration
    let repository: RepositoryOptions
    let stateDirectory: String
    let planning: SitePlanning
    let store: any StateStore
    /// The state database's URL when it is not the SQLite file of the state directory.
    let databaseURL: String?
    let clock: any InterlockClock
    /// Reads the desired state; a second read (the next pass of `interlock run`) reads only what changed.
    let reader: DesiredStateReader

    /// - Parameter waitForDatabase: given, a PostgreSQL database that does not answer is waited for (`serve`): it
    ///   gets the opening function and returns the store, or nil when the process was told to stop meanwhile.
    init(instance: InstanceOptions, repository: RepositoryOptions, target: TargetOptions,
         waitForDatabase: ((() throws -> any StateStore) throws -> (any StateStore)?)? = nil) throws {
        configuration = try instance.load()
        guard !repository.worktree else {
            // A working tree has no commit: no author to keep from approving it, no history for the rollout waves.
            Terminal.error("the queue takes commits only: --worktree is for 'validate', 'plan' and 'status' (commit the change, then reconcile)")
            throw ExitCode(64)
        }
        var repository = repository
        if repository.repo == ".", let configured = configuration.repository { repository.repo = configured }
        if repository.rev == "HEAD", repository.repo == configuration.repository { repository.rev = configuration.branch }
        if repository.stateDir == nil { repository.stateDir = configuration.stateDirectory }
        var target = target
        if target.targetBase == nil { target.targetBase = configuration.targetBase }
        self.repository = repository
        stateDirectory = repository.stateDirectory
        reader = DesiredStateReader(source: repository.source, revision: repository.rev, stateDirectory: stateDirectory)
        var planning = try target.planning(stateDirectory: stateDirectory, driverDirectory: repository.driverDirectory, configuration: configuration)
        clock = TestClockOverride.clock ?? SystemClock()
        let databaseURL = StateDirectory.databaseURL(option: repository.database, configured: configuration.database)
        self.databaseURL = databaseURL
        let lease = TimeInterval(repository.leaseDuration ?? configuration.leaseDuration?.seconds ?? Int(SQLiteStore.defaultLeaseDuration))
        do {
            if let text = databaseURL {
                let url = try DatabaseURL.parse(text)
                let open = { () throws -> any StateStore in try AuditStores.open(url, leaseDuration: lease) }
                if let waitForDatabase, case .postgres = url {
                    guard let opened = try waitForDatabase(open) else { throw ExitCode.success }
                    store = opened
                } else {
                    store = try open()
                }
            } else {
                store = try SQLiteStore(stateDirectory: stateDirectory, leaseDuration: lease)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let named = repository.database != nil || ProcessInfo.processInfo.environment["INTERLOCK_DATABASE"].map({ !$0.isEmpty }) == true
                ? "" : " (database of the instance configuration \(configuration.file ?? ""))"
            Terminal.error(databaseURL == nil ? "cannot open the state database in \(stateDirectory): \(error)" : "cannot open the state database\(named): \(error)")
            throw ExitCode(2)
        }
        // Sites reached through their agent are planned from what their agent last reported.
        planning.agentObservations = store
        self.planning = planning
    }

    /// Reads and validates the desired state; invalid commits are audited once and stop the command.
    func desiredState() throws -> (DesiredState, Reconciler.CommitContext, commit: String?) {
        switch try head() {
        case .valid(let state, let commit, let id): return (state, commit, id)
        case .invalid(let id, _):
            Terminal.error("commit \(id.map { String($0.prefix(10)) } ?? "(working tree)") does not validate; nothing was queued and the queued changes stay as they were")
            throw ExitCode(1)
        }
    }

    /// The desired state at the head of the branch, or that it does not validate (its problems printed and audited).
    enum Head {
        case valid(DesiredState, Reconciler.CommitContext, String?)
        case invalid(commit: String?, problems: Int)

        var state: DesiredState? {
            if case .valid(let state, _, _) = self { return state }
            return nil
        }
    }

    /// The desired state to work on a queued change with: the head when it validates; when a newer commit does not,
    /// the commit the change was queued from (nil when that cannot be read) — a broken commit never makes the changes
    /// queued from an earlier valid one unusable.
    func state(for change: ChangeRequest, head: Head) -> DesiredState? {
        if let state = head.state { return state }
        // Changes are only ever queued from commits that validated.
        guard let commit = change.plan.commit else { return nil }
        return stateAtCommit(commit)
    }

    /// Says, once, that the head does not validate and that queued changes are worked on at their own commits.
    func noteInvalidHead(_ head: Head) {
        guard case .invalid(let commit, let problems) = head else { return }
        FileHandle.standardError.write(Data("warning: HEAD (commit \(commit.map { String($0.prefix(10)) } ?? "?")) does not validate (\(problems) problem(s)); nothing new is queued from it, and queued changes are shown, signed and applied at the commits they were queued from\n".utf8))
    }

    func head() throws -> Head {
        let loaded: DesiredState.LoadResult
        let commit: CommitInfo?
        do {
            (loaded, commit) = try reader.read()
        } catch {
            Terminal.error("cannot read the desired state from \(repository.source): \(error)")
            throw ExitCode(2)
        }
        let errors = loaded.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty {
            for diagnostic in errors { FileHandle.standardError.write(Data((diagnostic.rendered + "\n").utf8)) }
            AuditTrail(stateDirectory: stateDirectory, databaseURL: databaseURL).validationFailed(commit: commit, source: repository.source, errors: errors)
            return .invalid(commit: commit?.id.hex, problems: errors.count)
        }
        let author = commit.map { Person(id: $0.author.email, name: $0.author.name, email: $0.author.email) }
        return .valid(loaded.state, Reconciler.CommitContext(author: author, summary: commit?.summary, id: commit?.id.hex, history: commitHistory),
                      commit?.id.hex)
    }

    /// Reads the desired state at a commit (for the health commands of a change baking since that commit).
    var stateAtCommit: @Sendable (String) -> DesiredState? {
        { [source = repository.source, stateDirectory] commit in
            try? source.readOutline(revision: commit, stateDirectory: stateDirectory).outline.state
        }
    }

    /// The repository's history, for the commits a change carries.
    var commitHistory: GitCommitHistory { GitCommitHistory(source: repository.source, stateDirectory: stateDirectory) }

    /// The rollout waves of the desired state, with the repository's history to tell which commits contain which.
    func rollout(_ state: DesiredState) -> RolloutContext {
        RolloutContext(config: state.config, store: store, graph: GitCommitGraph(source: repository.source, stateDirectory: stateDirectory))
    }

    func reconciler(_ state: DesiredState) -> Reconciler {
        Reconciler(planning: planning, store: store, clock: clock, rollout: rollout(state), signers: configuration.users)
    }

    /// Signs a checkpoint of the audit log's head when a signing key exists.
    func checkpoint() {
        do {
            try KeyStore.checkpointIfKeyed(store, stateDirectory: stateDirectory)
        } catch {
            FileHandle.standardError.write(Data("warning: could not sign an audit checkpoint: \(error)\n".utf8))
        }
    }
}

/// A rehearsal: gates (windows, freezes, bakes) evaluated at a simulated instant, `INTERLOCK_NOW=2026-11-28T22:30:00+01:00`,
/// for demonstrations and tests. It is refused unless `INTERLOCK_REHEARSAL=1` says that this is a rehearsal, and then
/// every audit record the process writes carries `details.rehearsal` with the simulated time, and every page of the
/// console says so. Audit timestamps always come from the system clock.
enum Rehearsal {
    /// What every record and page says while rehearsing; nil for real operation.
    nonisolated(unsafe) static var note: String?

    /// Checks the environment before any command runs: exit 2 for a simulated clock outside a rehearsal.
    static func begin() {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment["INTERLOCK_NOW"], !text.isEmpty else { return }
        guard environment["INTERLOCK_REHEARSAL"] == "1" else {
            FileHandle.standardError.write(Data("""
                error: INTERLOCK_NOW='\(text)' would move the clock every gate (windows, freezes, bakes) is checked against. \
                It is only for rehearsals: set INTERLOCK_REHEARSAL=1 as well (every audit record and console page then says \
                so), or unset INTERLOCK_NOW.

                """.utf8))
            exit(2)
        }
        guard (try? TestClock(iso8601: text)) != nil else {
            FileHandle.standardError.write(Data("error: INTERLOCK_NOW='\(text)' is not an ISO 8601 time with an offset, e.g. 2026-11-28T22:30:00+01:00\n".utf8))
            exit(2)
        }
        let note = "rehearsal: gates evaluated at the simulated time \(text) (INTERLOCK_NOW), not the real clock"
        Rehearsal.note = note
        AuditAnnotations.set("rehearsal", note)
        FileHandle.standardError.write(Data("notice: \(note)\n".utf8))
    }
}

/// The gate clock: the system clock, or the simulated one of a rehearsal (see ``Rehearsal``).
enum TestClockOverride {
    static let clock: (any InterlockClock)? = {
        guard Rehearsal.note != nil, let text = ProcessInfo.processInfo.environment["INTERLOCK_NOW"] else { return nil }
        return try? TestClock(iso8601: text)
    }()
}

/// Lists the commits between two points of the desired-state repository (opened per question).
struct GitCommitHistory: CommitHistory {
    let source: RepositorySource
    let stateDirectory: String

    func commits(from base: String?, to head: String, limit: Int) -> [CommitIdentity]? {
        let path: String
        switch source {
        case .workTree: return nil
        case .local(let local): path = local
        case .remote(let url): path = RepositorySource.mirrorDirectory(for: url, stateDirectory: stateDirectory)
        }
        guard let tip = ObjectID(hex: head), let repository = try? Repository.open(at: path) else { return nil }
        let hidden = base.flatMap { ObjectID(hex: $0) }
        let found = (try? repository.commits(from: hidden, to: tip, limit: limit)) ?? (try? repository.commits(from: nil, to: tip, limit: limit))
        return found?.map { commit in
            CommitIdentity(
                id: commit.id.hex, summary: commit.summary,
                author: Person(id: commit.author.email, name: commit.author.name, email: commit.author.email),
                committer: Person(id: commit.committer.email, name: commit.committer.name, email: commit.committer.email))
        }
    }
}

extension GitCommitHistory {
    func changedPaths(of commit: String) -> Set<String>? {
        if let known = ChangedPathsCache.shared.get(commit) { return known }
        let path: String
        switch source {
        case .workTree: return nil
        case .local(let local): path = local
        case .remote(let url): path = RepositorySource.mirrorDirectory(for: url, stateDirectory: stateDirectory)
        }
        guard let id = ObjectID(hex: commit), let repository = try? Repository.open(at: path),
              let info = try? repository.commit(id) else { return nil }
        // A merge brings what its branches' own commits brought: only the paths that differ from every parent (a
        // conflict's resolution) are its own. A parent that cannot be read (a shallow mirror) counts as nothing.
        func paths(from parent: ObjectID?) -> Set<String> {
            var paths = Set<String>()
            for change in (try? repository.changedPaths(from: parent, to: id)) ?? [] {
                paths.insert(change.path)
                if let old = change.oldPath { paths.insert(old) }
            }
            return paths
        }
        var result = paths(from: info.parents.first)
        for parent in info.parents.dropFirst() where !result.isEmpty { result.formIntersection(paths(from: parent)) }
        ChangedPathsCache.shared.set(commit, result)
        return result
    }
}

/// The paths each commit changed, by commit id (a commit never changes): read once per process, at most 20,000 kept.
final class ChangedPathsCache: @unchecked Sendable {
    static let shared = ChangedPathsCache()
    private let lock = NSLock()
    private var entries: [String: Set<String>] = [:]

    func get(_ commit: String) -> Set<String>? { lock.withLock { entries[commit] } }
    func set(_ commit: String, _ paths: Set<String>) {
        lock.withLock {
            if entries.count >= 20_000 { entries.removeAll(keepingCapacity: true) }
            entries[commit] = paths
        }
    }
}

/// Answers ancestry questions from the desired-state repository (opened per question: a repository
/// handle is not shareable between threads). A working tree has no history: a commit contains only itself.
struct GitCommitGraph: CommitGraph {
    let source: RepositorySource
    let stateDirectory: String

    func contains(_ ancestor: String, in descendant: String) -> Bool {
        if ancestor == descendant { return true }
        let path: String
        switch source {
        case .workTree: return false
        case .local(let local): path = local
        case .remote(let url): path = RepositorySource.mirrorDirectory(for: url, stateDirectory: stateDirectory)
        }
        guard let a = ObjectID(hex: ancestor), let d = ObjectID(hex: descendant), let repository = try? Repository.open(at: path) else {
            return false  // unknown history: the change keeps waiting rather than overtaking an earlier wave
        }
        return (try? repository.contains(a, in: d)) ?? false
    }
}
