import Foundation
import GRDB

/// The versioned schema of the audit tables. Migrations are named `v1-audit`, `v2-audit-checkpoints`, …;
/// a migration, once released, never changes — a new schema version is a new migration.
enum AuditSchema {
    static let recordColumns = """
        sequence, id, timestamp, actor_id, actor_name, actor_role, actor_authentication, source_host, source_process, \
        source_pid, category, action, site, resource, change_id, plan_id, commit_id, before_value, after_value, reason, \
        result, error, details, previous_hash, hash
        """

    /// How many columns ``recordColumns`` selects (one per ``AuditField``).
    static let recordColumnCount = AuditField.allCases.count

    static let checkpointColumns = "sequence, head_hash, timestamp, key_id, signature"

    /// The names of all migrations, oldest first.
    static let migrationNames = ["v1-audit", "v2-audit-checkpoints", "v3-change-queue", "v4-rollout", "v5-trusted-rules", "v6-leases", "v7-console-sessions", "v8-agents", "v9-carried-approvals", "v10-notifications"]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-audit") { db in
            try db.execute(sql: """
                CREATE TABLE audit_record (
                    sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),
                    id TEXT NOT NULL UNIQUE,
                    timestamp TEXT NOT NULL,
                    actor_id TEXT NOT NULL,
                    actor_name TEXT NOT NULL,
                    actor_role TEXT NOT NULL,
                    actor_authentication TEXT NOT NULL,
                    source_host TEXT NOT NULL,
                    source_process TEXT NOT NULL,
                    source_pid INTEGER NOT NULL,
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
                );
                CREATE INDEX audit_record_site ON audit_record(site, sequence);
                CREATE INDEX audit_record_action ON audit_record(action, sequence);
                CREATE INDEX audit_record_actor ON audit_record(actor_id, sequence);
                CREATE INDEX audit_record_change ON audit_record(change_id, sequence);
                CREATE INDEX audit_record_plan ON audit_record(plan_id, sequence);
                CREATE INDEX audit_record_timestamp ON audit_record(timestamp);
                CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
                BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE is not allowed'); END;
                CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
                BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE is not allowed'); END;
                """)
        }
        migrator.registerMigration("v2-audit-checkpoints") { db in
            try db.execute(sql: """
                CREATE TABLE audit_checkpoint (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    sequence INTEGER NOT NULL CHECK (sequence >= 0),
                    head_hash TEXT NOT NULL,
                    timestamp TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    signature TEXT NOT NULL
                );
                CREATE INDEX audit_checkpoint_sequence ON audit_checkpoint(sequence);
                CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
                BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE is not allowed'); END;
                CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
                BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: DELETE is not allowed'); END;
                """)
        }
        migrator.registerMigration("v3-change-queue") { db in
            try db.execute(sql: """
                CREATE TABLE change_request (
                    id TEXT PRIMARY KEY,
                    site TEXT NOT NULL,
                    number INTEGER NOT NULL,
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
                    emergency INTEGER NOT NULL DEFAULT 0,
                    owner TEXT,
                    receipt TEXT,
                    UNIQUE (site, number)
                );
                CREATE INDEX change_request_site_status ON change_request(site, status);
                CREATE INDEX change_request_status ON change_request(status);
                CREATE UNIQUE INDEX change_request_one_applying_per_site ON change_request(site) WHERE status = 'applying';
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
                );
                """)
        }
        migrator.registerMigration("v4-rollout") { db in
            try db.execute(sql: """
                ALTER TABLE change_request ADD COLUMN health_checked_at TEXT;
                CREATE TABLE rollout_override (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    commit_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    user_name TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    decided_at TEXT NOT NULL
                );
                CREATE INDEX rollout_override_commit ON rollout_override(commit_id);
                """)
        }
        migrator.registerMigration("v5-trusted-rules") { db in
            try db.execute(sql: """
                ALTER TABLE change_request ADD COLUMN commits TEXT;
                ALTER TABLE change_request ADD COLUMN rule_changes TEXT;
                CREATE TABLE site_baseline (
                    site TEXT PRIMARY KEY,
                    change_id TEXT NOT NULL,
                    commit_id TEXT,
                    site_file BLOB NOT NULL,
                    config_file BLOB,
                    applied_at TEXT NOT NULL
                );
                CREATE TABLE instance_setting (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v6-leases") { db in
            try db.execute(sql: """
                ALTER TABLE change_request ADD COLUMN lease_token INTEGER;
                ALTER TABLE change_request ADD COLUMN lease_expires_at TEXT;
                """)
        }
        migrator.registerMigration("v7-console-sessions") { db in
            try db.execute(sql: """
                CREATE TABLE console_session (
                    key TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    credential TEXT NOT NULL,
                    csrf_token TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    last_seen REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v8-agents") { db in
            try db.execute(sql: """
                CREATE TABLE agent_enrolment (
                    id TEXT PRIMARY KEY,
                    site TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    status TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    created_by TEXT NOT NULL,
                    request TEXT,
                    key_fingerprint TEXT,
                    requested_at REAL,
                    requested_from TEXT,
                    decided_by TEXT,
                    decided_at REAL,
                    serial TEXT
                );
                CREATE TABLE agent_certificate (
                    serial TEXT PRIMARY KEY,
                    site TEXT NOT NULL,
                    enrolment_id TEXT NOT NULL REFERENCES agent_enrolment(id),
                    fingerprint TEXT NOT NULL UNIQUE,
                    key_fingerprint TEXT NOT NULL,
                    not_before REAL NOT NULL,
                    not_after REAL NOT NULL,
                    pem TEXT NOT NULL,
                    issued_at REAL NOT NULL,
                    renews TEXT,
                    revoked_at REAL,
                    revoked_by TEXT,
                    last_contact REAL,
                    last_address TEXT
                );
                CREATE INDEX agent_certificate_site ON agent_certificate(site);
                CREATE TABLE agent_observation (
                    site TEXT PRIMARY KEY,
                    report TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    desired_version TEXT NOT NULL,
                    reported_at REAL NOT NULL,
                    serial TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v9-carried-approvals") { db in
            try db.execute(sql: """
                ALTER TABLE change_approval ADD COLUMN carried_from_change TEXT;
                ALTER TABLE change_approval ADD COLUMN carried_from_plan TEXT;
                """)
        }
        migrator.registerMigration("v10-notifications") { db in
            try db.execute(sql: """
                CREATE TABLE notification (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
                    attempts INTEGER NOT NULL,
                    next_attempt_at REAL NOT NULL,
                    last_error TEXT,
                    created_at REAL NOT NULL,
                    sent_at REAL,
                    claimed_by TEXT,
                    claimed_until REAL
                );
                CREATE INDEX notification_due ON notification(status, next_attempt_at);
                """)
        }
        return migrator
    }
}

/// A record's stored fields, numbered by their column's position in ``AuditSchema/recordColumns``: the decoder and
/// the canonical writer name fields this way whether they come from an ``AuditRecord`` or straight from a row.
enum AuditField: Int, CaseIterable {
    case sequence, id, timestamp, actorID, actorName, actorRole, actorAuthentication, sourceHost, sourceProcess
    case sourcePID, category, action, site, resource, changeID, planID, commit, before, after, reason
    case result, error, details, previousHash, hash
}
