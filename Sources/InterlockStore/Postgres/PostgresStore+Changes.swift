import Foundation
import InterlockEngine
import InterlockModel
import PostgresNIO

/// The change queue in the same PostgreSQL database as the audit log. Every write takes the chain's advisory lock
/// first, so queue writes from any replica take turns exactly as SQLite's IMMEDIATE transactions do, and each
/// transition commits together with the audit records that describe it. A unique index allows one applying change
/// per site whatever a replica believes.
extension PostgresStore: RolloutStore, ChangeNotifying {
    /// The channel queue changes are announced on (`pg_notify`), so replicas act on an approval at once.
    static let changeChannel = "interlock_queue"

    public func watchChanges(_ onChange: @escaping @Sendable () -> Void) -> Task<Void, Never> {
        let session = session
        return Task {
            var delay: Double = 1
            while !Task.isCancelled {
                if let connection = try? await session.makeConnection() {
                    delay = 1
                    onChange()
                    _ = try? await connection.listen(on: PostgresStore.changeChannel) { notifications in
                        for try await _ in notifications { onChange() }
                    }
                    try? await connection.close()
                }
                guard !Task.isCancelled else { break }
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 30)
            }
        }
    }

    public func record(_ events: [AuditEvent]) throws {
        _ = try append(contentsOf: events.map(QueueRows.entry))
    }

    public func record(_ events: [AuditEvent], fence: LeaseFence?) throws {
        guard let fence else { return try record(events) }
        try write("record \(events.count) event(s) of \(fence.changeID)") { connection in
            try Self.check(fence, in: connection)
            _ = try appendRecords(events.map(QueueRows.entry), in: connection)
        }
    }

    public var isShared: Bool { true }

    public func lease(changeID: String) throws -> ChangeLease? {
        try read("read the lease of \(changeID)") { connection in
            guard let row = try connection.query(
                "SELECT owner, lease_token, (EXTRACT(EPOCH FROM lease_expires_at) * 1000)::BIGINT FROM change_request WHERE id = $1 AND status = 'applying'",
                [.text(changeID)]).first, let token = try row.integer(1) else { return nil }
            return ChangeLease(
                changeID: changeID, owner: try row.text(0) ?? "", token: token,
                expiresAt: try row.integer(2).map { Date(timeIntervalSince1970: Double($0) / 1000) })
        }
    }

    public func renewLease(changeID: String, token: Int64) throws -> Bool {
        try write("renew the lease of \(changeID)", notify: false) { connection in
            !(try connection.query(
                """
                UPDATE change_request SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)
                WHERE id = $1 AND lease_token = $2 AND status = 'applying' RETURNING id
                """, [.text(changeID), .integer(token), .double(leaseDuration)]).isEmpty)
        }
    }

    /// A shared store: only an expired lease (in the database's time) lets a change be taken over; whether the
    /// holder's process looks dead from here says nothing about a process on another machine.
    public func takeOver(changeID: String, owner: String, token: Int64?, ownerIsDead: Bool, events: [AuditEvent]) throws -> ChangeLease? {
        try write("take \(changeID) over") { connection in
            guard let row = try connection.query(
                """
                SELECT lease_token, lease_expires_at IS NULL OR lease_expires_at < clock_timestamp() FROM change_request
                WHERE id = $1 AND status = 'applying'
                """, [.text(changeID)]).first,
                try row.integer(0) == token, try row.makeRandomAccess()[1].decode(Bool.self) else { return nil }
            guard let updated = try connection.query(
                """
                UPDATE change_request SET owner = $2, updated_at = $3,
                    lease_token = (SELECT COALESCE(MAX(lease_token), 0) + 1 FROM change_request),
                    lease_expires_at = clock_timestamp() + make_interval(secs => $4)
                WHERE id = $1 RETURNING lease_token, (EXTRACT(EPOCH FROM lease_expires_at) * 1000)::BIGINT
                """, [.text(changeID), .text(owner), .text(AuditTimestamp.format(clock.now())), .double(leaseDuration)]).first,
                let next = try updated.integer(0) else { return nil }
            _ = try appendRecords(events.map(QueueRows.entry), in: connection)
            return ChangeLease(changeID: changeID, owner: owner, token: next, expiresAt: try updated.integer(1).map { Date(timeIntervalSince1970: Double($0) / 1000) })
        }
    }

    /// Refuses a lease holder's write once the lease is not its own any more.
    static func check(_ fence: LeaseFence?, in connection: PostgresSessionConnection) throws {
        guard let fence else { return }
        let row = try connection.query("SELECT status, lease_token FROM change_request WHERE id = $1", [.text(fence.changeID)]).first
        guard let row, try row.text(0) == ChangeStatus.applying.rawValue, try row.integer(1) == fence.token else {
            throw ChangeStoreError(.fenced, "the lease on \(fence.changeID) (token \(fence.token)) was lost: another process took the change over; this process's write was refused")
        }
    }

    public func enqueue(_ new: NewChange, events: [AuditEvent]) throws -> EnqueueResult {
        try write("queue a change for \(new.site)") { connection in
            let active = try Self.fetchChanges(connection, where: "site = $1 AND status IN ('waiting', 'ready', 'applying') ORDER BY number DESC", [.text(new.site)])
            if let same = active.first(where: { $0.plan.id == new.plan.id }) {
                return EnqueueResult(change: same, created: false, superseded: nil)
            }
            if let applying = active.first(where: { $0.status == .applying }) {
                return EnqueueResult(change: applying, created: false, superseded: nil)
            }
            let number = try connection.query(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM change_request WHERE site = $1", [.text(new.site)]
            ).first?.integer(0) ?? 1
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
                try connection.query(
                    "UPDATE change_request SET status = 'superseded', status_reason = $1, updated_at = $2 WHERE id = $3",
                    [.text("superseded by \(id) (plan \(new.plan.shortID))"), .text(now), .text(old.id)])
                superseded = old
                let outcome = QueueRows.supersede(old, by: id, new: new)
                carried += outcome.carried
                allEvents.insert(contentsOf: outcome.events, at: 0)
            }
            try connection.query(
                """
                INSERT INTO change_request (id, site, number, plan_id, commit_id, plan, gate, status, author_id, author_name,
                    author_email, commit_summary, created_at, updated_at, commits, rule_changes)
                VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting', $8, $9, $10, $11, $12, $13, $14, $15)
                """,
                [.text(id), .text(new.site), .integer(number), .text(new.plan.id), .text(new.plan.commit), .text(new.plan.stored.canonicalJSON),
                 .text(new.gate.rawValue), .text(new.author?.id), .text(new.author?.name), .text(new.author?.email), .text(new.commitSummary),
                 .text(now), .text(now), .text(try QueueRows.json(new.commits)), .text(try QueueRows.json(new.ruleChanges))])
            for approval in carried {
                try Self.insert(approval, changeID: id, in: connection)
            }
            _ = try appendRecords(allEvents.map(QueueRows.entry), in: connection)
            let created = try Self.fetchChanges(connection, where: "id = $1", [.text(id)])[0]
            return EnqueueResult(change: created, created: true, superseded: superseded)
        }
    }

    public func change(id: String) throws -> ChangeRequest? {
        try read("read change \(id)") { try Self.fetchChanges($0, where: "id = $1", [.text(id)]).first }
    }

    public func changes(sites: [String], statuses: Set<ChangeStatus>, limit: Int?) throws -> [ChangeRequest] {
        var clauses: [String] = []
        var values: [PostgresValue] = []
        if !sites.isEmpty {
            clauses.append("site IN (\(sites.indices.map { "$\(values.count + $0 + 1)" }.joined(separator: ",")))")
            values += sites.map { .text($0) }
        }
        if !statuses.isEmpty {
            let sorted = statuses.map(\.rawValue).sorted()
            clauses.append("status IN (\(sorted.indices.map { "$\(values.count + $0 + 1)" }.joined(separator: ",")))")
            values += sorted.map { .text($0) }
        }
        var sql = clauses.isEmpty ? "TRUE" : clauses.joined(separator: " AND ")
        sql += " ORDER BY created_at DESC, number DESC"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        return try read("read the change queue") { try Self.fetchChanges($0, where: sql, values) }
    }

    public func approve(changeID: String, approval: Approval, events: [AuditEvent]) throws -> ChangeRequest {
        try write("approve \(changeID)") { connection in
            guard let change = try Self.fetchChanges(connection, where: "id = $1", [.text(changeID)]).first else {
                throw ChangeStoreError(.notFound, "there is no change \(changeID)")
            }
            guard change.status == .waiting || change.status == .ready else {
                throw ChangeStoreError(.conflict, "change \(changeID) is \(change.status.rawValue)\(change.statusReason.map { " (\($0))" } ?? ""); only waiting or ready changes can be approved")
            }
            guard change.plan.id == approval.planID else {
                throw ChangeStoreError(.conflict, "the approval names plan \(approval.planID.prefix(19)) but change \(changeID) is plan \(change.plan.shortID)")
            }
            try Self.insert(approval, changeID: changeID, in: connection)
            try connection.query("UPDATE change_request SET updated_at = $1 WHERE id = $2", [.text(AuditTimestamp.format(clock.now())), .text(changeID)])
            _ = try appendRecords(events.map(QueueRows.entry), in: connection)
            return try Self.fetchChanges(connection, where: "id = $1", [.text(changeID)])[0]
        }
    }

    static func insert(_ approval: Approval, changeID: String, in connection: PostgresSessionConnection) throws {
        try connection.query(
            """
            INSERT INTO change_approval (change_id, plan_id, approver_id, approver_name, approver_email, role, meaning, reason, approved_at,
                carried_from_change, carried_from_plan)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (change_id, approver_id) DO UPDATE SET plan_id = EXCLUDED.plan_id, approver_name = EXCLUDED.approver_name,
                approver_email = EXCLUDED.approver_email, role = EXCLUDED.role, meaning = EXCLUDED.meaning, reason = EXCLUDED.reason,
                approved_at = EXCLUDED.approved_at, carried_from_change = EXCLUDED.carried_from_change, carried_from_plan = EXCLUDED.carried_from_plan
            """,
            [.text(changeID), .text(approval.planID), .text(approval.approver.id), .text(approval.approver.name), .text(approval.approver.email),
             .text(approval.role), .text(approval.meaning), .text(approval.reason), .text(AuditTimestamp.format(approval.at)),
             .text(approval.carriedFromChange), .text(approval.carriedFromPlan)])
    }

    public func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent]) throws -> ChangeRequest {
        try transition(changeID: changeID, from: from, to: to, reason: reason, events: events, baseline: nil)
    }

    public func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?) throws -> ChangeRequest {
        try transition(changeID: changeID, from: from, to: to, reason: reason, events: events, baseline: baseline, fence: nil)
    }

    public func transition(changeID: String, from: Set<ChangeStatus>, to: ChangeStatus, reason: String?, events: [AuditEvent], baseline: SiteBaseline?, fence: LeaseFence?) throws -> ChangeRequest {
        try write("move \(changeID) to \(to.rawValue)") { connection in
            try Self.check(fence, in: connection)
            guard let change = try Self.fetchChanges(connection, where: "id = $1", [.text(changeID)]).first else {
                throw ChangeStoreError(.notFound, "there is no change \(changeID)")
            }
            guard from.contains(change.status) else {
                throw ChangeStoreError(.conflict, "change \(changeID) is \(change.status.rawValue)\(change.statusReason.map { " (\($0))" } ?? ""), not \(from.map(\.rawValue).sorted().joined(separator: " or "))")
            }
            try connection.query(
                """
                UPDATE change_request SET status = $1, status_reason = $2, updated_at = $3,
                    owner = CASE WHEN $1 = 'applying' THEN owner ELSE NULL END,
                    lease_expires_at = CASE WHEN $1 = 'applying' THEN lease_expires_at ELSE NULL END WHERE id = $4
                """,
                [.text(to.rawValue), .text(reason), .text(AuditTimestamp.format(clock.now())), .text(changeID)])
            if let baseline {
                try connection.query(
                    """
                    INSERT INTO site_baseline (site, change_id, commit_id, site_file, config_file, applied_at) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (site) DO UPDATE SET change_id = EXCLUDED.change_id, commit_id = EXCLUDED.commit_id,
                        site_file = EXCLUDED.site_file, config_file = EXCLUDED.config_file, applied_at = EXCLUDED.applied_at
                    """,
                    [.text(baseline.site), .text(baseline.changeID), .text(baseline.commit), .bytes(baseline.files.siteFile),
                     .bytes(baseline.files.configFile), .text(AuditTimestamp.format(baseline.appliedAt))])
            }
            _ = try appendRecords(events.map(QueueRows.entry), in: connection)
            return try Self.fetchChanges(connection, where: "id = $1", [.text(changeID)])[0]
        }
    }

    public func claim(changeID: String, owner: String, emergency: Bool, events: [AuditEvent]) throws -> ChangeRequest {
        try write("claim \(changeID) for applying") { connection in
            guard let change = try Self.fetchChanges(connection, where: "id = $1", [.text(changeID)]).first else {
                throw ChangeStoreError(.notFound, "there is no change \(changeID)")
            }
            guard change.status == .ready || (emergency && change.status == .waiting) else {
                throw ChangeStoreError(.conflict, "change \(changeID) is \(change.status.rawValue), not ready")
            }
            if let other = try connection.query(
                "SELECT id FROM change_request WHERE site = $1 AND status = 'applying'", [.text(change.site)]).first?.text(0) {
                throw ChangeStoreError(.conflict, "change \(other) is being applied at \(change.site); one change at a time per site")
            }
            try connection.query(
                """
                UPDATE change_request SET status = 'applying', owner = $1, emergency = $2, status_reason = NULL, updated_at = $3,
                    lease_token = (SELECT COALESCE(MAX(lease_token), 0) + 1 FROM change_request),
                    lease_expires_at = clock_timestamp() + make_interval(secs => $5) WHERE id = $4
                """,
                [.text(owner), .integer(emergency ? 1 : 0), .text(AuditTimestamp.format(clock.now())), .text(changeID), .double(leaseDuration)])
            _ = try appendRecords(events.map(QueueRows.entry), in: connection)
            return try Self.fetchChanges(connection, where: "id = $1", [.text(changeID)])[0]
        }
    }

    public func baseline(site: String) throws -> SiteBaseline? {
        try read("read what was last applied at \(site)") { connection in
            guard let row = try connection.query(
                "SELECT change_id, commit_id, site_file, config_file, applied_at FROM site_baseline WHERE site = $1", [.text(site)]).first
            else { return nil }
            return SiteBaseline(
                site: site, changeID: try row.text(0) ?? "", commit: try row.text(1),
                files: RulesFiles(siteFile: try row.bytes(2) ?? Data(), configFile: try row.bytes(3)),
                appliedAt: AuditTimestamp.parse(try row.text(4) ?? "") ?? .distantPast)
        }
    }

    public func saveReceipt(changeID: String, receipt: ApplyReceipt) throws {
        try saveReceipt(changeID: changeID, receipt: receipt, fence: nil)
    }

    public func saveReceipt(changeID: String, receipt: ApplyReceipt, fence: LeaseFence?) throws {
        let json = String(decoding: try JSONEncoder().encode(receipt), as: UTF8.self)
        try write("save the receipt of \(changeID)") { connection in
            try Self.check(fence, in: connection)
            try connection.query("UPDATE change_request SET receipt = $1 WHERE id = $2", [.text(json), .text(changeID)])
        }
    }

    public func receipt(changeID: String) throws -> ApplyReceipt? {
        let json = try read("read the receipt of \(changeID)") {
            try $0.query("SELECT receipt FROM change_request WHERE id = $1", [.text(changeID)]).first?.text(0)
        }
        return try json.map { try JSONDecoder().decode(ApplyReceipt.self, from: Data($0.utf8)) }
    }

    public func owner(changeID: String) throws -> String? {
        try read("read the owner of \(changeID)") {
            try $0.query("SELECT owner FROM change_request WHERE id = $1", [.text(changeID)]).first?.text(0)
        }
    }

    // MARK: - Rollout

    public func rolloutOverrides(commit: String) throws -> [RolloutOverride] {
        try read("read rollout overrides") { connection in
            try connection.query(
                "SELECT commit_id, action, user_id, user_name, reason, decided_at FROM rollout_override WHERE commit_id = $1 ORDER BY id",
                [.text(commit)]
            ).compactMap { row in
                guard let action = RolloutOverride.Action(rawValue: try row.text(1) ?? "") else { return nil }
                return RolloutOverride(
                    commit: try row.text(0) ?? "", action: action, by: Person(id: try row.text(2) ?? "", name: try row.text(3) ?? ""),
                    reason: try row.text(4) ?? "", at: AuditTimestamp.parse(try row.text(5) ?? "") ?? .distantPast)
            }
        }
    }

    public func addRolloutOverride(_ override: RolloutOverride, events: [AuditEvent]) throws {
        try write("record a rollout \(override.action.rawValue)") { connection in
            try connection.query(
                "INSERT INTO rollout_override (commit_id, action, user_id, user_name, reason, decided_at) VALUES ($1, $2, $3, $4, $5, $6)",
                [.text(override.commit), .text(override.action.rawValue), .text(override.by.id), .text(override.by.name),
                 .text(override.reason), .text(AuditTimestamp.format(override.at))])
            _ = try appendRecords(events.map(QueueRows.entry), in: connection)
        }
    }

    public func lastHealthCheck(changeID: String) throws -> Date? {
        try read("read the last health check of \(changeID)") {
            try $0.query("SELECT health_checked_at FROM change_request WHERE id = $1", [.text(changeID)]).first?.text(0).flatMap(AuditTimestamp.parse)
        }
    }

    public func recordHealthCheck(changeID: String, at: Date, events: [AuditEvent]) throws {
        try write("record a health check of \(changeID)") { connection in
            try connection.query("UPDATE change_request SET health_checked_at = $1 WHERE id = $2", [.text(AuditTimestamp.format(at)), .text(changeID)])
            _ = try appendRecords(events.map(QueueRows.entry), in: connection)
        }
    }

    // MARK: - Helpers

    /// A queue write: one transaction holding the chain lock from its first statement, so writers on every replica
    /// take turns and a check followed by an update cannot race.
    private func write<T>(_ what: String, notify: Bool = true, _ body: (PostgresSessionConnection) throws -> T) throws -> T {
        do {
            return try session.transaction { connection in
                try lockChain(connection)
                let result = try body(connection)
                // Delivered to every listening replica when (and only if) the transaction commits.
                if notify { try connection.query("SELECT pg_notify($1, $2)", [.text(PostgresStore.changeChannel), .text(what)]) }
                return result
            }
        } catch let error as ChangeStoreError {
            throw error
        } catch let error as AuditEntryError {
            throw error
        } catch {
            throw ChangeStoreError(.database, "cannot \(what) in \(target.redacted): \(error)")
        }
    }

    private func read<T>(_ what: String, _ body: (PostgresSessionConnection) throws -> T) throws -> T {
        do {
            return try session.transaction("REPEATABLE READ") { try body($0) }
        } catch let error as ChangeStoreError {
            throw error
        } catch {
            throw ChangeStoreError(.database, "cannot \(what) in \(target.redacted): \(error)")
        }
    }

    static func fetchChanges(_ connection: PostgresSessionConnection, where condition: String, _ values: [PostgresValue]) throws -> [ChangeRequest] {
        let rows = try connection.query("""
            SELECT id, site, plan, gate, status, status_reason, author_id, author_name, author_email, commit_summary,
                   created_at, updated_at, emergency, commits, rule_changes FROM change_request WHERE \(condition)
            """, values)
        return try rows.map { row in
            let id = try row.text(0) ?? ""
            let plan = try Plan(stored: try Value.parseJSON(try row.text(2) ?? ""))
            let approvals = try connection.query("""
                SELECT plan_id, approver_id, approver_name, approver_email, role, meaning, reason, approved_at, carried_from_change, carried_from_plan
                FROM change_approval WHERE change_id = $1 ORDER BY approved_at
                """, [.text(id)]).map { a in
                Approval(
                    approver: Person(id: try a.text(1) ?? "", name: try a.text(2) ?? "", email: try a.text(3)),
                    role: try a.text(4) ?? "", meaning: try a.text(5) ?? "", reason: try a.text(6) ?? "", planID: try a.text(0) ?? "",
                    at: AuditTimestamp.parse(try a.text(7) ?? "") ?? .distantPast, carriedFromChange: try a.text(8), carriedFromPlan: try a.text(9))
            }
            let authorID = try row.text(6)
            let authorName = try row.text(7)
            let authorEmail = try row.text(8)
            return ChangeRequest(
                id: id, site: try row.text(1) ?? "", plan: plan, gate: Gate(rawValue: try row.text(3) ?? "") ?? .approvalAndWindow,
                status: ChangeStatus(rawValue: try row.text(4) ?? "") ?? .waiting, statusReason: try row.text(5),
                author: authorID.map { Person(id: $0, name: authorName ?? $0, email: authorEmail) },
                commitSummary: try row.text(9),
                createdAt: AuditTimestamp.parse(try row.text(10) ?? "") ?? .distantPast,
                updatedAt: AuditTimestamp.parse(try row.text(11) ?? "") ?? .distantPast,
                approvals: approvals, emergency: try row.integer(12) == 1,
                commits: try QueueRows.decodeJSON([CommitIdentity].self, try row.text(13)) ?? [],
                ruleChanges: try QueueRows.decodeJSON([RuleChange].self, try row.text(14)) ?? [])
        }
    }
}
