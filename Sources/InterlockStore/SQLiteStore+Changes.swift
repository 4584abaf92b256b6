import Foundation
import GRDB
import InterlockEngine
import InterlockModel

/// The change queue in the same SQLite file as the audit log: every transition and the audit records
/// that describe it commit in one IMMEDIATE transaction.
extension SQLiteStore: ChangeStore {
    public func record(_ events: [AuditEvent]) throws {
        _ = try append(contentsOf: events.map(QueueRows.entry))
    }

    public func record(_ events: [AuditEvent], fence: LeaseFence?) throws {
        guard let fence else { return try record(events) }
        try write("record \(events.count) event(s) of \(fence.changeID)") { db in
            try Self.check(fence, in: db)
            _ = try appendRecords(events.map(QueueRows.entry), in: db)
        }
    }

    public var isShared: Bool { false }

    public func lease(changeID: String) throws -> ChangeLease? {
        try database("read the lease of \(changeID)") {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT owner, lease_token, lease_expires_at FROM change_request WHERE id = ? AND status = 'applying'", arguments: [changeID]),
                      let token = row["lease_token"] as Int64? else { return nil }
                return ChangeLease(changeID: changeID, owner: row["owner"] ?? "", token: token, expiresAt: (row["lease_expires_at"] as String?).flatMap(AuditTimestamp.parse))
            }
        }
    }

    public func renewLease(changeID: String, token: Int64) throws -> Bool {
        try write("renew the lease of \(changeID)") { db in
            try db.execute(
                sql: "UPDATE change_request SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND status = 'applying'",
                arguments: [AuditTimestamp.format(clock.now() + leaseDuration), changeID, token])
            return db.changesCount == 1
        }
    }

    public func takeOver(changeID: String, owner: String, token: Int64?, ownerIsDead: Bool, events: [AuditEvent]) throws -> ChangeLease? {
        try write("take \(changeID) over") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT lease_token, lease_expires_at FROM change_request WHERE id = ? AND status = 'applying'", arguments: [changeID]),
                  (row["lease_token"] as Int64?) == token else { return nil }
            let now = clock.now()
            let expired = (row["lease_expires_at"] as String?).flatMap(AuditTimestamp.parse).map { $0 < now } ?? true
            guard expired || ownerIsDead else { return nil }
            let next = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(lease_token), 0) + 1 FROM change_request") ?? 1
            let expires = now + leaseDuration
            try db.execute(
                sql: "UPDATE change_request SET owner = ?, lease_token = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?",
                arguments: [owner, next, AuditTimestamp.format(expires), AuditTimestamp.format(now), changeID])
            _ = try appendRecords(events.map(QueueRows.entry), in: db)
            return ChangeLease(changeID: changeID, owner: owner, token: next, expiresAt: expires)
        }
    }

    /// Refuses a lease holder's write once the lease is not its own any more.
    static func check(_ fence: LeaseFence?, in db: Database) throws {
        guard let fence else { return }
        let row = try Row.fetchOne(db, sql: "SELECT status, lease_token FROM change_request WHERE id = ?", arguments: [fence.changeID])
        guard let row, (row["status"] as String?) == ChangeStatus.applying.rawValue, (row["lease_token"] as Int64?) == fence.token else {
            throw ChangeStoreError(.fenced, "the lease on \(fence.changeID) (token \(fence.token)) was lost: another process took the change over; this process's write was refused")
        }
    }

    public func enqueue(_ new: NewChange, events: [AuditEvent]) throws -> EnqueueResult {
        try write("queue a change for \(new.site)") { db in
            let active = try Self.fetchChanges(db, sql: "WHERE site = ? AND status IN ('waiting', 'ready', 'applying') ORDER BY number DESC", [new.site])
            if let same = active.first(where: { $0.plan.id == new.plan.id }) {
                return EnqueueResult(change: same, created: false, superseded: nil)
            }
            if let applying = active.first(where: { $0.status == .applying }) {
                return EnqueueResult(change: applying, created: false, superseded: nil)
            }
            let number: Int64 = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(number), 0) + 1 FROM change_request WHERE site = ?", arguments: [new.site]) ?? 1
            let id = "\(new.site)-\(number)"
            let now = AuditTimestamp.format(clock.now())
            var superseded: ChangeRequest?
            var allEvents = events.map { event -> AuditEvent in
                var e = event
                e.changeID = e.changeID ?? id
                return e
            }
            var carried: [Approval] = []
            for old in active {
                try db.execute(
                    sql: "UPDATE change_request SET status = 'superseded', status_reason = ?, updated_at = ? WHERE id = ?",
                    arguments: ["superseded by \(id) (plan \(new.plan.shortID))", now, old.id])
                superseded = old
                let outcome = QueueRows.supersede(old, by: id, new: new)
                carried += outcome.carried
                allEvents.insert(contentsOf: outcome.events, at: 0)
            }
            try db.execute(
                sql: """
                    INSERT INTO change_request (id, site, number, plan_id, commit_id, plan, gate, status, author_id, author_name,
                        author_email, commit_summary, created_at, updated_at, commits, rule_changes)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, new.site, number, new.plan.id, new.plan.commit, new.plan.stored.canonicalJSON, new.gate.rawValue,
                            new.author?.id, new.author?.name, new.author?.email, new.commitSummary, now, now,
                            try QueueRows.json(new.commits), try QueueRows.json(new.ruleChanges)])
            for approval in carried {
                try Self.insert(approval, changeID: id, in: db)
            }
            _ = try appendRecords(allEvents.map(QueueRows.entry), in: db)
            let created = try Self.fetchChanges(db, sql: "WHERE id = ?", [id])[0]
            return EnqueueResult(change: created, created: true, superseded: superseded)
        }
    }

    public func change(id: String) throws -> ChangeRequest? {
        try database("read change \(id)") { try pool.read { try Self.fetchChanges($0, sql: "WHERE id = ?", [id]).first } }
    }

    public func changes(sites: [String], statuses: Set<ChangeStatus>, limit: Int?) throws -> [ChangeRequest] {
        var clauses: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if !sites.isEmpty {
            clauses.append("site IN (\(sites.map { _ in "?" }.joined(separator: ",")))")
            arguments += sites
        }
        if !statuses.isEmpty {
            clauses.append("status IN (\(statuses.map { _ in "?" }.joined(separator: ",")))")
            arguments += statuses.map(\.rawValue).sorted()
        }
        var sql = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        sql += " ORDER BY created_at DESC, number DESC"
        if let limit { sql += " LIMIT \(limit)" }
        return try database("read the change queue") { try pool.read { try Self.fetchChanges($0, sql: sql, StatementArguments(arguments)) } }
    }

    public func approve(changeID: String, approval: Approval, events: [AuditEvent]) throws -> ChangeRequest {
        try write("approve \(changeID)") { db in
            guard let change = try Self.fetchChanges(db, sql: "WHERE id = ?", [changeID]).first else {
                throw ChangeStoreError(.notFound, "there is no change \(changeID)")
            }
            guard change.status == .waiting || change.status == .ready else {
                throw ChangeStoreError(.conflict, "change \(changeID) is \(change.status.rawValue)\(change.statusReason.map { " (\($0))" } ?? ""); only waiting or ready changes can be approved")
            }
            guard change.plan.id == approval.planID else {
                throw ChangeStoreError(.conflict, "the approval names plan \(approval.planID.prefix(19)) but change \(changeID) is plan \(change.plan.shortID)")
            }
            try Self.insert(approval, changeID: changeID, in: db)
            try db.execute(sql: "UPDATE change_request SET updated_at = ? WHERE id = ?", arguments: [AuditTimestamp.format(clock.now()), changeID])
            _ = try appendRecords(events.map(QueueRows.entry), in: db)
            return try Self.fetchChanges(db, sql: "WHERE id = ?", [changeID])[0]
        }
    }

    static func insert(_ approval: Approval, changeID: String, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO change_approval (change_id, plan_id, approver_id, approver_name, approver_email, role, meaning, reason, approved_at,
                    carried_from_change, carried_from_plan)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [changeID, approval.planID, approval.approver.id, approval.approver.name, approval.approver.email,
                        approval.role, approval.meaning, approval.reason, AuditTimestamp.format(approval.at),
                        approval.carriedFromChange, approval.carriedFromPlan])
    }

    public func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent]) throws -> ChangeRequest {
        try transition(changeID: changeID, from: from, to: to, reason: reason, events: events, baseline: nil)
    }

    public func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?) throws -> ChangeRequest {
        try transition(changeID: changeID, from: from, to: to, reason: reason, events: events, baseline: baseline, fence: nil)
    }

    public func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?, fence: LeaseFence?) throws -> ChangeRequest {
        try write("move \(changeID) to \(to.rawValue)") { db in
            try Self.check(fence, in: db)
            guard let change = try Self.fetchChanges(db, sql: "WHERE id = ?", [changeID]).first else {
                throw ChangeStoreError(.notFound, "there is no change \(changeID)")
            }
            guard from.contains(change.status) else {
                throw ChangeStoreError(.conflict, "change \(changeID) is \(change.status.rawValue)\(change.statusReason.map { " (\($0))" } ?? ""), not \(from.map(\.rawValue).sorted().joined(separator: " or "))")
            }
            try db.execute(
                sql: """
                    UPDATE change_request SET status = ?, status_reason = ?, updated_at = ?,
                        owner = CASE WHEN ? = 'applying' THEN owner ELSE NULL END,
                        lease_expires_at = CASE WHEN ? = 'applying' THEN lease_expires_at ELSE NULL END WHERE id = ?
                    """,
                arguments: [to.rawValue, reason, AuditTimestamp.format(clock.now()), to.rawValue, to.rawValue, changeID])
            if let baseline {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO site_baseline (site, change_id, commit_id, site_file, config_file, applied_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [baseline.site, baseline.changeID, baseline.commit, baseline.files.siteFile, baseline.files.configFile,
                                AuditTimestamp.format(baseline.appliedAt)])
            }
            _ = try appendRecords(events.map(QueueRows.entry), in: db)
            return try Self.fetchChanges(db, sql: "WHERE id = ?", [changeID])[0]
        }
    }

    public func claim(changeID: String, owner: String, emergency: Bool, events: [AuditEvent]) throws -> ChangeRequest {
        try write("claim \(changeID) for applying") { db in
            guard let change = try Self.fetchChanges(db, sql: "WHERE id = ?", [changeID]).first else {
                throw ChangeStoreError(.notFound, "there is no change \(changeID)")
            }
            guard change.status == .ready || (emergency && change.status == .waiting) else {
                throw ChangeStoreError(.conflict, "change \(changeID) is \(change.status.rawValue), not ready")
            }
            if let other = try String.fetchOne(db, sql: "SELECT id FROM change_request WHERE site = ? AND status = 'applying'", arguments: [change.site]) {
                throw ChangeStoreError(.conflict, "change \(other) is being applied at \(change.site); one change at a time per site")
            }
            let token = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(lease_token), 0) + 1 FROM change_request") ?? 1
            let now = clock.now()
            try db.execute(
                sql: """
                    UPDATE change_request SET status = 'applying', owner = ?, emergency = ?, status_reason = NULL, updated_at = ?,
                        lease_token = ?, lease_expires_at = ? WHERE id = ?
                    """,
                arguments: [owner, emergency, AuditTimestamp.format(now), token, AuditTimestamp.format(now + leaseDuration), changeID])
            _ = try appendRecords(events.map(QueueRows.entry), in: db)
            return try Self.fetchChanges(db, sql: "WHERE id = ?", [changeID])[0]
        }
    }

    public func baseline(site: String) throws -> SiteBaseline? {
        try database("read what was last applied at \(site)") {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT change_id, commit_id, site_file, config_file, applied_at FROM site_baseline WHERE site = ?", arguments: [site])
                else { return nil }
                return SiteBaseline(site: site, changeID: row["change_id"], commit: row["commit_id"],
                                    files: RulesFiles(siteFile: row["site_file"] ?? Data(), configFile: row["config_file"]),
                                    appliedAt: AuditTimestamp.parse(row["applied_at"]) ?? .distantPast)
            }
        }
    }

    public func saveReceipt(changeID: String, receipt: ApplyReceipt) throws {
        try saveReceipt(changeID: changeID, receipt: receipt, fence: nil)
    }

    public func saveReceipt(changeID: String, receipt: ApplyReceipt, fence: LeaseFence?) throws {
        let json = String(decoding: try JSONEncoder().encode(receipt), as: UTF8.self)
        try write("save the receipt of \(changeID)") { db in
            try Self.check(fence, in: db)
            try db.execute(sql: "UPDATE change_request SET receipt = ? WHERE id = ?", arguments: [json, changeID])
        }
    }

    public func receipt(changeID: String) throws -> ApplyReceipt? {
        let json = try database("read the receipt of \(changeID)") {
            try pool.read { try String.fetchOne($0, sql: "SELECT receipt FROM change_request WHERE id = ?", arguments: [changeID]) }
        }
        return try json.map { try JSONDecoder().decode(ApplyReceipt.self, from: Data($0.utf8)) }
    }

    public func owner(changeID: String) throws -> String? {
        try database("read the owner of \(changeID)") {
            try pool.read { try String.fetchOne($0, sql: "SELECT owner FROM change_request WHERE id = ?", arguments: [changeID]) }
        }
    }

    // MARK: - Helpers

    private func write<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as ChangeStoreError {
            throw error
        } catch let error as AuditEntryError {
            throw error
        } catch {
            throw ChangeStoreError(.database, "cannot \(what) in \(path): \(error)")
        }
    }

    static func fetchChanges(_ db: Database, sql: String, _ arguments: StatementArguments) throws -> [ChangeRequest] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT id, site, plan, gate, status, status_reason, author_id, author_name, author_email, commit_summary,
                   created_at, updated_at, emergency, commits, rule_changes FROM change_request \(sql)
            """, arguments: arguments)
        return try rows.map { row in
            let id: String = row["id"]
            let plan = try Plan(stored: try Value.parseJSON(row["plan"] as String))
            let approvals = try Row.fetchAll(db, sql: """
                SELECT plan_id, approver_id, approver_name, approver_email, role, meaning, reason, approved_at, carried_from_change, carried_from_plan
                FROM change_approval WHERE change_id = ? ORDER BY approved_at
                """, arguments: [id]).map { a in
                Approval(
                    approver: Person(id: a["approver_id"], name: a["approver_name"], email: a["approver_email"]),
                    role: a["role"], meaning: a["meaning"], reason: a["reason"], planID: a["plan_id"],
                    at: AuditTimestamp.parse(a["approved_at"]) ?? .distantPast,
                    carriedFromChange: a["carried_from_change"], carriedFromPlan: a["carried_from_plan"])
            }
            let authorID: String? = row["author_id"]
            return ChangeRequest(
                id: id, site: row["site"], plan: plan, gate: Gate(rawValue: row["gate"]) ?? .approvalAndWindow,
                status: ChangeStatus(rawValue: row["status"]) ?? .waiting, statusReason: row["status_reason"],
                author: authorID.map { Person(id: $0, name: row["author_name"] ?? $0, email: row["author_email"]) },
                commitSummary: row["commit_summary"],
                createdAt: AuditTimestamp.parse(row["created_at"]) ?? .distantPast,
                updatedAt: AuditTimestamp.parse(row["updated_at"]) ?? .distantPast,
                approvals: approvals, emergency: (row["emergency"] as Int64?) == 1,
                commits: try QueueRows.decodeJSON([CommitIdentity].self, row["commits"]) ?? [],
                ruleChanges: try QueueRows.decodeJSON([RuleChange].self, row["rule_changes"]) ?? [])
        }
    }
}

extension SQLiteStore: ChangeNotifying {
    /// How often the queue's signature is read to notice another process's approval, rejection or queue change.
    public static let changeWatchInterval: Duration = .milliseconds(250)

    /// SQLite has no notifications between processes: every ``changeWatchInterval`` this reads a signature of the
    /// signatures (the newest approval by rowid, and the number of rejected changes through the status index) and
    /// calls `onChange` when it moved — so an approval or rejection given with the CLI wakes `serve` at once, as
    /// `pg_notify` does. A reconcile pass never signs, so its own writes do not wake it again.
    public func watchChanges(_ onChange: @escaping @Sendable () -> Void) -> Task<Void, Never> {
        let pool = pool
        return Task {
            var last: String?
            while !Task.isCancelled {
                let signature = try? await pool.read { db in
                    try String.fetchOne(db, sql: """
                        SELECT coalesce((SELECT max(rowid) FROM change_approval), 0) || '/' ||
                               coalesce((SELECT count(*) FROM change_request WHERE status = 'rejected'), 0)
                        """)
                }
                // The first reading counts as a change too, as a (re)connection does for PostgreSQL.
                if let signature, signature != last {
                    last = signature
                    onChange()
                }
                try? await Task.sleep(for: SQLiteStore.changeWatchInterval)
            }
        }
    }
}
