import ArgumentParser
import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel
import InterlockStore

/// The instance configuration (`--config`) and what it provides: users, repository, directories.
struct InstanceOptions: ParsableArguments {
    @Option(name: .long, help: "Instance configuration file. Default: $INTERLOCK_CONFIG, else /etc/interlock/interlock.yaml when it exists.")
    var config: String?

    /// The configuration, or an empty one when no file is named and the default does not exist.
    func load() throws -> InstanceConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["INTERLOCK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.fileExists(atPath: "/etc/interlock/interlock.yaml") ? "/etc/interlock/interlock.yaml" : nil)
        guard let path else { return InstanceConfiguration() }
        guard let data = FileManager.default.contents(atPath: path) else {
            Terminal.error("cannot read the instance configuration \(path)")
            throw ExitCode(2)
        }
        let (configuration, diagnostics) = InstanceConfiguration.read(data, file: path)
        let errors = diagnostics.filter { $0.severity == .error }
        guard let configuration, errors.isEmpty else {
            for diagnostic in errors { FileHandle.standardError.write(Data((diagnostic.rendered + "\n").utf8)) }
            Terminal.error("the instance configuration \(path) has \(errors.count) problem(s)")
            throw ExitCode(2)
        }
        return configuration
    }
}

/// Everything a queue command needs, resolved once: configuration, repository, state, planning, store.
struct QueueContext {
    let configuration: InstanceConfiguration
    let repository: RepositoryOptions
    let stateDirectory: String
    let planning: SitePlanning
    let store: SQLiteStore
    let clock: any InterlockClock
    /// Reads the desired state; a second read (the next pass of `interlock run`) reads only what changed.
    let reader: DesiredStateReader

    init(instance: InstanceOptions, repository: RepositoryOptions, target: TargetOptions) throws {
        configuration = try instance.load()
        var repository = repository
        if repository.repo == ".", let configured = configuration.repository { repository.repo = configured }
        if repository.rev == "HEAD", repository.repo == configuration.repository { repository.rev = configuration.branch }
        if repository.stateDir == nil { repository.stateDir = configuration.stateDirectory }
        var target = target
        if target.targetBase == nil { target.targetBase = configuration.targetBase }
        self.repository = repository
        stateDirectory = repository.stateDirectory
        reader = DesiredStateReader(source: repository.source, revision: repository.rev, stateDirectory: stateDirectory)
        planning = target.planning(stateDirectory: stateDirectory, driverDirectory: repository.driverDirectory)
        clock = TestClockOverride.clock ?? SystemClock()
        do {
            store = try SQLiteStore(stateDirectory: stateDirectory)
        } catch {
            Terminal.error("cannot open the state database in \(stateDirectory): \(error)")
            throw ExitCode(2)
        }
    }

    /// Reads and validates the desired state; invalid commits are audited once and stop the command.
    func desiredState() throws -> (DesiredState, Reconciler.CommitContext, commit: String?) {
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
            AuditTrail(stateDirectory: stateDirectory).validationFailed(commit: commit, source: repository.source, errors: errors)
            Terminal.error("commit \(commit.map { String($0.id.hex.prefix(10)) } ?? "(working tree)") does not validate; nothing was queued and the queued changes stay as they were")
            throw ExitCode(1)
        }
        let author = commit.map { Person(id: $0.author.email, name: $0.author.name, email: $0.author.email) }
        return (loaded.state, Reconciler.CommitContext(author: author, summary: commit?.summary), commit?.id.hex)
    }

    /// The rollout waves of the desired state, with the repository's history to tell which commits contain which.
    func rollout(_ state: DesiredState) -> RolloutContext {
        RolloutContext(config: state.config, store: store, graph: GitCommitGraph(source: repository.source, stateDirectory: stateDirectory))
    }

    func reconciler(_ state: DesiredState) -> Reconciler {
        Reconciler(planning: planning, store: store, clock: clock, rollout: rollout(state))
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

/// Lets tests and demonstrations evaluate gates (windows, freezes) at a fixed instant:
/// `INTERLOCK_NOW=2026-11-28T22:30:00+01:00`. It never changes audit timestamps, which always come from
/// the system clock; every command that uses it prints a notice.
enum TestClockOverride {
    static let clock: (any InterlockClock)? = {
        guard let text = ProcessInfo.processInfo.environment["INTERLOCK_NOW"], !text.isEmpty else { return nil }
        guard let clock = try? TestClock(iso8601: text) else {
            FileHandle.standardError.write(Data("warning: INTERLOCK_NOW='\(text)' is not an ISO-8601 time; using the system clock\n".utf8))
            return nil
        }
        FileHandle.standardError.write(Data("notice: the clock is set to \(text) by INTERLOCK_NOW\n".utf8))
        return clock
    }()
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
