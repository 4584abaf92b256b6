import Foundation

/// The PostgreSQL schema: the same tables and columns as the SQLite one (``AuditSchema``), migrated by the store
/// itself when it opens the database, under an advisory lock so that replicas starting together take turns.
enum PostgresSchema {
    /// Advisory lock keys (`pg_advisory_xact_lock`): migrations, and the audit chain's head (every append and
    /// checkpoint holds it until it commits, so writers on any replica take turns and never fork the chain).
    static let migrationLock: Int64 = 0x1_6E74_6C6B_0001
    static let chainLock: Int64 = 0x1_6E74_6C6B_0002

    /// Migrations by name, oldest first; each runs in one transaction with the statements in order.
    static let migrations: [(name: String, statements: [String])] = [
        ("pg-v1-audit", [
            """
            CREATE TABLE audit_record (
                sequence BIGINT PRIMARY KEY CHECK (sequence >= 1),
                id TEXT NOT NULL UNIQUE,
                timestamp TEXT NOT NULL,
                actor_id TEXT NOT NULL,
                actor_name TEXT NOT NULL,
                actor_role TEXT NOT NULL,
                actor_authentication TEXT NOT NULL,
                source_host TEXT NOT NULL,
                source_process TEXT NOT NULL,
                source_pid BIGINT NOT NULL,
                category TEXT NOT NULL,
                action TEXT NOT NULL,
                site TEXT,
                resource TEXT,
                change_id TEXT,
                plan_id TEXT,
                commit_id TEXT,
                before_value TEXT,
                after_value TEXT,
                reason TEXT,
                result TEXT NOT NULL,
                error TEXT,
                details TEXT NOT NULL DEFAULT '{}',
                previous_hash TEXT NOT NULL UNIQUE,
                hash TEXT NOT NULL UNIQUE
            )
            """,
            "CREATE INDEX audit_record_site ON audit_record(site, sequence)",
            "CREATE INDEX audit_record_action ON audit_record(action, sequence)",
            "CREATE INDEX audit_record_actor ON audit_record(actor_id, sequence)",
            "CREATE INDEX audit_record_change ON audit_record(change_id, sequence)",
            "CREATE INDEX audit_record_plan ON audit_record(plan_id, sequence)",
            "CREATE INDEX audit_record_timestamp ON audit_record(timestamp)",
            """
            CREATE TABLE audit_checkpoint (
                id BIGSERIAL PRIMARY KEY,
                sequence BIGINT NOT NULL CHECK (sequence >= 0),
                head_hash TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                key_id TEXT NOT NULL,
                signature TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_checkpoint_sequence ON audit_checkpoint(sequence)",
            """
            CREATE FUNCTION interlock_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% are append-only: % is not allowed', TG_ARGV[0], TG_OP;
            END
            $$
            """,
            """
            CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record
            FOR EACH ROW EXECUTE FUNCTION interlock_append_only('audit records')
            """,
            """
            CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record
            FOR EACH STATEMENT EXECUTE FUNCTION interlock_append_only('audit records')
            """,
            """
            CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
            FOR EACH ROW EXECUTE FUNCTION interlock_append_only('audit checkpoints')
            """,
            """
            CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
            FOR EACH STATEMENT EXECUTE FUNCTION interlock_append_only('audit checkpoints')
            """,
            "CREATE TABLE instance_setting (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]),
        ("pg-v2-change-queue", [
            """
            CREATE TABLE change_request (
                id TEXT PRIMARY KEY,
                site TEXT NOT NULL,
                number BIGINT NOT NULL,
                plan_id TEXT NOT NULL,
                commit_id TEXT,
                plan TEXT NOT NULL,
                gate TEXT NOT NULL,
                status TEXT NOT NULL,
                status_reason TEXT,
                author_id TEXT,
                author_name TEXT,
                author_email TEXT,
                commit_summary TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                emergency BIGINT NOT NULL DEFAULT 0,
                owner TEXT,
                receipt TEXT,
                health_checked_at TEXT,
                commits TEXT,
                rule_changes TEXT,
                UNIQUE (site, number)
            )
            """,
            "CREATE INDEX change_request_site_status ON change_request(site, status)",
            "CREATE INDEX change_request_status ON change_request(status)",
            // At most one applying change per site, whatever any replica believes.
            "CREATE UNIQUE INDEX change_request_one_applying_per_site ON change_request(site) WHERE status = 'applying'",
            """
            CREATE TABLE change_approval (
                change_id TEXT NOT NULL REFERENCES change_request(id),
                plan_id TEXT NOT NULL,
                approver_id TEXT NOT NULL,
                approver_name TEXT NOT NULL,
                approver_email TEXT,
                role TEXT NOT NULL,
                meaning TEXT NOT NULL,
                reason TEXT NOT NULL,
                approved_at TEXT NOT NULL,
                PRIMARY KEY (change_id, approver_id)
            )
            """,
            """
            CREATE TABLE rollout_override (
                id BIGSERIAL PRIMARY KEY,
                commit_id TEXT NOT NULL,
                action TEXT NOT NULL,
                user_id TEXT NOT NULL,
                user_name TEXT NOT NULL,
                reason TEXT NOT NULL,
                decided_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX rollout_override_commit ON rollout_override(commit_id)",
            """
            CREATE TABLE site_baseline (
                site TEXT PRIMARY KEY,
                change_id TEXT NOT NULL,
                commit_id TEXT,
                site_file BYTEA NOT NULL,
                config_file BYTEA,
                applied_at TEXT NOT NULL
            )
            """,
        ]),
        ("pg-v3-leases", [
            "ALTER TABLE change_request ADD COLUMN lease_token BIGINT",
            // The database's own time: replicas' clocks may differ, the lease must not.
            "ALTER TABLE change_request ADD COLUMN lease_expires_at TIMESTAMPTZ",
        ]),
        ("pg-v4-console-sessions", [
            """
            CREATE TABLE console_session (
                key TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                credential TEXT NOT NULL,
                csrf_token TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                last_seen DOUBLE PRECISION NOT NULL
            )
            """,
        ]),
        ("pg-v5-agents", [
            """
            CREATE TABLE agent_enrolment (
                id TEXT PRIMARY KEY,
                site TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                created_by TEXT NOT NULL,
                request TEXT,
                key_fingerprint TEXT,
                requested_at DOUBLE PRECISION,
                requested_from TEXT,
                decided_by TEXT,
                decided_at DOUBLE PRECISION,
                serial TEXT
            )
            """,
            """
            CREATE TABLE agent_certificate (
                serial TEXT PRIMARY KEY,
                site TEXT NOT NULL,
                enrolment_id TEXT NOT NULL REFERENCES agent_enrolment(id),
                fingerprint TEXT NOT NULL UNIQUE,
                key_fingerprint TEXT NOT NULL,
                not_before DOUBLE PRECISION NOT NULL,
                not_after DOUBLE PRECISION NOT NULL,
                pem TEXT NOT NULL,
                issued_at DOUBLE PRECISION NOT NULL,
                renews TEXT,
                revoked_at DOUBLE PRECISION,
                revoked_by TEXT,
                last_contact DOUBLE PRECISION,
                last_address TEXT
            )
            """,
            "CREATE INDEX agent_certificate_site ON agent_certificate(site)",
            """
            CREATE TABLE agent_observation (
                site TEXT PRIMARY KEY,
                report TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                desired_version TEXT NOT NULL,
                reported_at DOUBLE PRECISION NOT NULL,
                serial TEXT NOT NULL
            )
            """,
        ]),
        ("pg-v6-carried-approvals", [
            "ALTER TABLE change_approval ADD COLUMN carried_from_change TEXT",
            "ALTER TABLE change_approval ADD COLUMN carried_from_plan TEXT",
        ]),
        ("pg-v7-notifications", [
            """
            CREATE TABLE notification (
                id BIGSERIAL PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                event TEXT NOT NULL,
                site TEXT,
                change_id TEXT,
                channel TEXT NOT NULL,
                recipient TEXT NOT NULL,
                subject TEXT NOT NULL,
                text TEXT NOT NULL,
                html TEXT,
                payload TEXT,
                status TEXT NOT NULL,
                attempts BIGINT NOT NULL,
                next_attempt_at DOUBLE PRECISION NOT NULL,
                last_error TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                sent_at DOUBLE PRECISION,
                claimed_by TEXT,
                claimed_until DOUBLE PRECISION
            )
            """,
            "CREATE INDEX notification_due ON notification(status, next_attempt_at)",
        ]),
    ]

    static var migrationNames: [String] { migrations.map(\.name) }

    /// For reading only: the database must hold Interlock's tables already, and nothing is created or changed, so a
    /// read-only role (an auditor's) can read and verify, and a wrong URL is not silently given empty tables.
    static func requireExisting(_ session: PostgresSession) throws {
        let applied = try session.withConnection { connection -> [String]? in
            let exists = try connection.query("SELECT to_regclass('interlock_schema') IS NOT NULL").first?.makeRandomAccess()[0].decode(Bool.self) ?? false
            guard exists else { return nil }
            return try connection.query("SELECT name FROM interlock_schema").compactMap { try $0.text(0) }
        }
        guard let applied, applied.contains("pg-v1-audit") else {
            throw AuditStoreError(.database, "the database \(session.target.redacted) holds no Interlock audit log: check the URL, or move a log there with 'interlock store copy'")
        }
        let unknown = Set(applied).subtracting(migrationNames)
        guard unknown.isEmpty else {
            throw AuditStoreError(.database, "the database \(session.target.redacted) has schema migrations this Interlock does not know (\(unknown.sorted().joined(separator: ", "))): it was used by a newer version; upgrade Interlock")
        }
    }

    /// Brings the database to the latest schema; replicas that start together take turns, and a database that a
    /// newer Interlock migrated further is refused rather than written with an older idea of its tables.
    static func migrate(_ session: PostgresSession) throws {
        try session.transaction { connection in
            try connection.query("SELECT pg_advisory_xact_lock($1)", [.integer(migrationLock)])
            try connection.execute("CREATE TABLE IF NOT EXISTS interlock_schema (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            let applied = Set(try connection.query("SELECT name FROM interlock_schema").compactMap { try $0.text(0) })
            let unknown = applied.subtracting(migrationNames)
            guard unknown.isEmpty else {
                throw AuditStoreError(.database, "the database \(session.target.redacted) has schema migrations this Interlock does not know (\(unknown.sorted().joined(separator: ", "))): it was used by a newer version; upgrade Interlock")
            }
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.statements { try connection.execute(statement) }
                try connection.query("INSERT INTO interlock_schema (name) VALUES ($1)", [.text(migration.name)])
            }
        }
    }
}
