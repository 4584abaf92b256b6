import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel
import InterlockStore

/// Records what commands observe and do in the state directory's audit log.
///
/// Observations (a failed validation, a computed plan, detected drift) are recorded once: a plan or a
/// drift already recorded with the same plan id or hash is not recorded again. Failing to record an
/// observation is reported as a warning; failing to record an apply stops the apply.
struct AuditTrail {
    let stateDirectory: String
    /// The state database's URL (`--database`, `$INTERLOCK_DATABASE`); nil: the state directory's SQLite file.
    var databaseURL: String?
    let actor = CommandActor.current

    init(stateDirectory: String, databaseURL: String? = nil) {
        self.stateDirectory = stateDirectory
        self.databaseURL = databaseURL
    }

    /// Opens the log, or nil after a warning when it cannot be opened.
    private func openForObservations() -> (any StateStore)? {
        do {
            if let databaseURL { return try AuditStores.open(try DatabaseURL.parse(databaseURL)) }
            return try SQLiteStore(stateDirectory: stateDirectory)
        } catch {
            warn(error)
            return nil
        }
    }

    private func warn(_ error: any Error) {
        FileHandle.standardError.write(Data("warning: the audit log \(databaseURL == nil ? "in \(stateDirectory)" : "in the state database") could not record this: \(error)\n".utf8))
    }

    func validationFailed(commit: CommitInfo?, source: RepositorySource, errors: [Diagnostic]) {
        guard let store = openForObservations() else { return }
        let files = Set(errors.map(\.location.file)).sorted()
        do {
            _ = try store.append(AuditEntry(
                actor: actor, category: .configuration, action: "validate.failed", commit: commit?.id.hex,
                result: .failure, error: errors.prefix(3).map(\.description).joined(separator: "\n"),
                details: ["errors": String(errors.count), "files": files.joined(separator: ","), "repository": source.description]))
            try checkpoint(store)
        } catch {
            warn(error)
        }
    }

    /// Records each non-empty plan and each drift not yet recorded.
    func observed(_ outcomes: [SitePlanning.Outcome]) {
        observed(outcomes.compactMap(ObservedPlan.init))
    }

    /// Records each non-empty plan and each drift not yet recorded.
    func observed(_ plans: [ObservedPlan]) {
        let interesting = plans.contains { !$0.isEmpty || !$0.drift.isEmpty }
        guard interesting, let store = openForObservations() else { return }
        do {
            var entries: [AuditEntry] = []
            for plan in plans {
                let zone = plan.timezone
                if !plan.isEmpty, try store.records(matching: AuditQuery(site: plan.site, action: .exact("plan.computed"), planID: plan.id, limit: 1)).isEmpty {
                    entries.append(AuditEntry(
                        actor: actor, category: .plan, action: "plan.computed", site: plan.site, planID: plan.id, commit: plan.commit,
                        details: [
                            "create": String(plan.creates), "update": String(plan.updates), "delete": String(plan.deletes),
                            "liveFingerprint": plan.liveFingerprint, "desiredFingerprint": plan.desiredFingerprint, "timezone": zone,
                        ]))
                }
                guard !plan.drift.isEmpty else { continue }
                let recorded = try store.records(matching: AuditQuery(site: plan.site, action: .exact("drift.detected"), limit: 500, keepNewest: true))
                for drift in plan.drift {
                    let last = recorded.last { $0.resource == drift.path }
                    if last?.after == (drift.actualHash ?? "vanished") { continue }
                    entries.append(AuditEntry(
                        actor: actor, category: .drift, action: "drift.detected", site: plan.site, resource: drift.path,
                        planID: drift.appliedByPlan, commit: drift.appliedCommit, before: drift.expectedHash, after: drift.actualHash ?? "vanished",
                        result: .success, details: ["kind": drift.kind.rawValue, "summary": drift.summary, "timezone": zone]))
                }
            }
            if !entries.isEmpty {
                _ = try store.append(contentsOf: entries)
                try checkpoint(store)
            }
        } catch {
            warn(error)
        }
    }

    /// Signs a checkpoint of the log's head when the state directory holds a signing key (after
    /// `interlock init`), so every command that writes to the log leaves it anchored.
    private func checkpoint(_ store: any StateStore) throws {
        try KeyStore.checkpointIfKeyed(store, stateDirectory: stateDirectory)
    }
}

/// What the audit log records of a planned site: the plan's identity, counts and drift, without its operations
/// (a fleet's plans are summarised as they are printed, so their file contents need not be kept).
struct ObservedPlan: Sendable {
    var site: String
    var id: String
    var commit: String?
    var creates: Int, updates: Int, deletes: Int
    var liveFingerprint: String
    var desiredFingerprint: String
    var drift: [Drift]
    var timezone: String
    var isEmpty: Bool { creates + updates + deletes == 0 }

    init?(_ outcome: SitePlanning.Outcome) {
        guard case .planned(let desired, _, let plan) = outcome else { return nil }
        site = plan.site
        id = plan.id
        commit = plan.commit
        creates = plan.count(.create)
        updates = plan.count(.update)
        deletes = plan.count(.delete)
        liveFingerprint = plan.liveFingerprint
        desiredFingerprint = plan.desiredFingerprint
        drift = plan.drift
        timezone = desired.site.timezone
    }
}
