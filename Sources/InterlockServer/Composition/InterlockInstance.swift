import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel
import InterlockStore

/// Everything the server composes, resolved once: the instance configuration, where the desired state
/// comes from, the state directory with its store, how sites are planned, and the clock. The library
/// counterpart of the command line's `QueueContext` (which resolves options and environment into it).
public final class InterlockInstance: Sendable {
    public let configuration: InstanceConfiguration
    public let source: RepositorySource
    public let revision: String
    public let stateDirectory: String
    public let planning: SitePlanning
    public let store: any StateStore
    public let clock: any InterlockClock
    /// The auditors' copy of the checkpoint public key, when given: `audit verify` is then anchored.
    public let trustedPublicKeyFile: String?
    /// Whether reload and health commands run when the loop applies (skipping is recorded on every apply).
    public let runHooks: Bool
    /// The rollout waves for a desired state (with the repository history that tells which commits contain
    /// which); nil runs without wave gates.
    public let rollout: (@Sendable (DesiredState) -> RolloutContext)?

    /// The repository's history, for the commits a change carries (nil: changes list none).
    public let history: (any CommitHistory)?
    /// Set while gates run on a simulated clock (a rehearsal): every page says so.
    public let rehearsal: String?

    private let lastInvalidCommit = Locked<String?>(nil)
    /// Each pass reads on top of the previous one.
    private let reader: DesiredStateReader

    public init(
        configuration: InstanceConfiguration, source: RepositorySource, revision: String, stateDirectory: String,
        planning: SitePlanning, store: any StateStore, clock: any InterlockClock, trustedPublicKeyFile: String? = nil, runHooks: Bool = true,
        rollout: (@Sendable (DesiredState) -> RolloutContext)? = nil, history: (any CommitHistory)? = nil, rehearsal: String? = nil
    ) {
        self.history = history
        self.rehearsal = rehearsal
        self.rollout = rollout
        self.configuration = configuration
        self.source = source
        self.revision = revision
        self.stateDirectory = stateDirectory
        reader = DesiredStateReader(source: source, revision: revision, stateDirectory: stateDirectory)
        self.planning = planning
        self.store = store
        self.clock = clock
        self.trustedPublicKeyFile = trustedPublicKeyFile
        self.runHooks = runHooks
    }

    /// A validated desired state and the commit it was read at.
    public struct LoadedState: Sendable {
        public var state: DesiredState
        public var commit: Reconciler.CommitContext
        public var commitID: String?
        public var loadedAt: Date
        /// The sites this read found changed since the previous one (nil: unknown, or all): a pass plans them first,
        /// so the change a push brings is queued before the rest of the fleet is observed again. Only an order:
        /// every pass still plans every site.
        public var affectedSites: [String]? = nil
    }

    /// Why the desired state could not be used.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads and validates the desired state. An invalid commit is audited (once per commit) and throws:
    /// nothing is queued from it, exactly as `interlock reconcile` behaves.
    public func loadDesiredState() throws(LoadError) -> LoadedState {
        let loaded: DesiredState.LoadResult
        let commit: CommitInfo?
        let affectedSites: [String]?
        do {
            let read = try reader.readUpdate()
            (loaded, commit, affectedSites) = (read.result, read.commit, read.affectedSites)
        } catch {
            throw LoadError(message: "cannot read the desired state from \(source): \(error)")
        }
        let errors = loaded.diagnostics.filter { $0.severity == .error }
        let commitID = commit?.id.hex
        if !errors.isEmpty {
            let key = commitID ?? "working tree"
            let first = lastInvalidCommit.withLock { last in
                defer { last = key }
                return last != key
            }
            if first {
                try? store.record([AuditEvent(
                    actor: AuditEvent.system, role: "reconciler", authentication: "system", category: .configuration,
                    action: "validate.failed", commit: commitID, success: false,
                    error: errors.prefix(3).map(\.description).joined(separator: "\n"),
                    details: ["errors": String(errors.count), "files": Set(errors.map(\.location.file)).sorted().joined(separator: ","),
                              "repository": source.description])])
                checkpoint()
            }
            throw LoadError(message: "commit \(commitID.map { String($0.prefix(10)) } ?? "(working tree)") does not validate (\(errors.count) problem(s)); nothing was queued and the queued changes stay as they were")
        }
        lastInvalidCommit.withLock { $0 = nil }
        let author = commit.map { Person(id: $0.author.email, name: $0.author.name, email: $0.author.email) }
        return LoadedState(state: loaded.state, commit: Reconciler.CommitContext(author: author, summary: commit?.summary, id: commitID, history: history),
                           commitID: commitID, loadedAt: clock.now(), affectedSites: affectedSites)
    }

    /// The desired state at `commit` (read from the repository, nil when it cannot be), e.g. for the health commands of
    /// a change baking since that commit.
    public func state(at commit: String) -> DesiredState? {
        try? source.readOutline(revision: commit, stateDirectory: stateDirectory).outline.state
    }

    /// The reconciler for `state`, with its rollout waves.
    public func reconciler(_ state: DesiredState) -> Reconciler {
        Reconciler(planning: planning, store: store, clock: clock, rollout: rollout?(state), signers: configuration.users)
    }

    /// Signs a checkpoint of the audit log's head when a signing key exists (after `interlock init`).
    public func checkpoint() {
        do {
            try KeyStore.checkpointIfKeyed(store, stateDirectory: stateDirectory)
        } catch {
            FileHandle.standardError.write(Data("warning: could not sign an audit checkpoint: \(error)\n".utf8))
        }
    }

    /// The key checkpoints are verified with: the auditors' copy when configured, else the one next to the log.
    public func checkpointTrust() throws -> CheckpointTrust {
        if let trustedPublicKeyFile { return .external(try KeyStore.loadPublicKey(file: trustedPublicKeyFile)) }
        if FileManager.default.fileExists(atPath: KeyStore.publicKeyPath(in: stateDirectory)) {
            return .local(try KeyStore.loadPublicKey(from: stateDirectory))
        }
        return CheckpointTrust.none
    }
}
