import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded audit log: one SQLite database file, `<stateDir>/interlock.db`, through GRDB.
///
/// - WAL mode with `synchronous=FULL` on the writing connection: an append has reached the disk when it returns.
/// - Appends run in `BEGIN IMMEDIATE` transactions that read the head inside the transaction, so threads and
///   processes sharing the file take turns (waiting up to ``busyTimeout``) and never fork the chain; `sequence` is
///   the primary key and `previous_hash` is unique, so a fork could not be stored anyway.
/// - SQL triggers abort any UPDATE or DELETE of records and checkpoints (defence in depth; the hash chain and
///   signed checkpoints are what prove integrity).
public final class SQLiteStore: AuditLog {
    /// The database file name inside the state directory.
    public static let fileName = "interlock.db"
    /// How long a writer waits for another process's transaction before failing.
    public static let busyTimeout: TimeInterval = 10

    /// Path of the database file.
    public let path: String
    let pool: DatabasePool
    let clock: any AuditClock
    /// How long a claim holds without renewal (``ChangeStore/leaseDuration``).
    public let leaseDuration: TimeInterval
    /// The default lease: an applier renews it every third of it, so a pause of this long is noticed.
    public static let defaultLeaseDuration: TimeInterval = 30

    /// Opens (creating and migrating if needed) `<stateDirectory>/interlock.db`.
    public convenience init(stateDirectory: String, clock: any AuditClock = SystemAuditClock(), leaseDuration: TimeInterval = SQLiteStore.defaultLeaseDuration) throws {
        try StateDirectoryFiles.create(stateDirectory)
        try self.init(path: stateDirectory + "/" + SQLiteStore.fileName, clock: clock, leaseDuration: leaseDuration)
    }

    /// Opens (creating and migrating if needed) the database file at `path`.
    public convenience init(path: String, clock: any AuditClock = SystemAuditClock(), leaseDuration: TimeInterval = SQLiteStore.defaultLeaseDuration) throws {
        try self.init(path: path, clock: clock, migrateUpTo: nil, leaseDuration: leaseDuration)
    }

    /// Opens the file, migrating up to `migrateUpTo` (nil: the latest schema). Tests build old schemas with it.
    init(path: String, clock: any AuditClock, migrateUpTo target: String?, leaseDuration: TimeInterval = SQLiteStore.defaultLeaseDuration) throws {
        self.path = path
        self.clock = clock
        self.leaseDuration = leaseDuration
        var configuration = Configuration()
        configuration.busyMode = .timeout(SQLiteStore.busyTimeout)
        configuration.label = "interlock-audit"
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // DatabasePool sets synchronous=NORMAL when it enables WAL; audit appends must be durable on return.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try SQLiteStore.withMigrationLock(path: path) {
                if let target {
                    try AuditSchema.migrator.migrate(pool, upTo: target)
                } else {
                    try AuditSchema.migrator.migrate(pool)
                }
            }
        } catch let error as AuditStoreError {
            throw error
        } catch {
            throw AuditStoreError(.database, "cannot open the audit database \(path)", cause: error)
        }
    }

    /// Serialises schema migrations between processes that open a new file at the same moment.
    private static func withMigrationLock(path: String, _ body: () throws -> Void) throws {
        let lockPath = path + ".migrate-lock"
        let fd = open(lockPath, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { throw AuditStoreError(.io, "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw AuditStoreError(.io, "cannot lock \(lockPath)") }
        defer { flock(fd, LOCK_UN) }
        try body()
    }

    /// The applied schema migrations, oldest first.
    public func appliedMigrations() throws -> [String] {
        try database("read the schema version") { try pool.read { try AuditSchema.migrator.appliedMigrations($0) } }
    }

    /// Runs `body`, turning database errors into an ``AuditStoreError`` that says what was being done.
    func database<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as AuditStoreError {
            throw error
        } catch let error as AuditEntryError {
            throw error
        } catch let error as AgentRegistryError {
            throw error
        } catch {
            throw AuditStoreError(.database, "cannot \(what) in \(path)", cause: error)
        }
    }

    // MARK: - Appending

    public func append(_ entry: AuditEntry) throws -> AuditRecord {
        try append(contentsOf: [entry])[0]
    }

    public func append(contentsOf entries: [AuditEntry]) throws -> [AuditRecord] {
        guard !entries.isEmpty else { return [] }
        for entry in entries { try entry.validate() }
        return try database("append \(entries.count) audit record(s)") {
            try pool.writeWithoutTransaction { db in
                var records: [AuditRecord] = []
                try db.inTransaction(.immediate) {
                    records = try appendRecords(entries, in: db)
                    return .commit
                }
                return records
            }
        }
    }

    /// Appends inside the caller's IMMEDIATE transaction, so a state change and the records describing it
    /// commit together. The head is read inside the transaction: no other writer can move it meanwhile.
    func appendRecords(_ entries: [AuditEntry], in db: Database) throws -> [AuditRecord] {
        for entry in entries { try entry.validate() }
        var records: [AuditRecord] = []
        records.reserveCapacity(entries.count)
        let head = try Row.fetchOne(db, sql: "SELECT sequence, hash, timestamp FROM audit_record ORDER BY sequence DESC LIMIT 1")
        var chain = AuditChainAppender(head: head.map { (sequence: $0[0] as Int64, hash: $0[1] as String, timestamp: $0[2] as String) }, clock: clock)
        let insert = try db.cachedStatement(sql: "INSERT INTO audit_record (\(AuditSchema.recordColumns)) VALUES (\(Array(repeating: "?", count: 25).joined(separator: ",")))")
        for entry in entries {
            let record = chain.next(entry)
            try insert.execute(arguments: SQLiteStore.arguments(of: record))
            records.append(record)
        }
        return records
    }

    static func arguments(of r: AuditRecord) -> StatementArguments {
        [
            r.sequence, r.id, r.timestampText, r.actor.id, r.actor.name, r.actor.role, r.actor.authentication,
            r.source.host, r.source.process, r.source.pid, r.category.rawValue, r.action, r.site, r.resource,
            r.changeID, r.planID, r.commit, r.before, r.after, r.reason, r.result.rawValue, r.error,
            FlatJSONObject.canonical(r.details), r.previousHash, r.hash,
        ]
    }

    // MARK: - Checkpoints

    public func checkpoint(signingKey: AuditSigningKey) throws -> AuditCheckpoint {
        try checkpoint(signer: signingKey)
    }

    /// Signs the head with `signer` while holding the write lock (the head cannot move meanwhile) and stores the
    /// checkpoint. A signing helper is shown the records since the head it accepted last.
    public func checkpoint(signer: some CheckpointSigner) throws -> AuditCheckpoint {
        try database("write an audit checkpoint") {
            try pool.writeWithoutTransaction { db in
                var checkpoint: AuditCheckpoint?
                try db.inTransaction(.immediate) {
                    let head = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_record ORDER BY sequence DESC LIMIT 1")
                    let signed = try signer.signCheckpoint(
                        sequence: head?[0] ?? 0, headHash: head?[1] ?? AuditRecord.genesisHash, now: clock.now()
                    ) { after, limit in try SQLiteStore.records(db, after: after, limit: limit) }
                    guard signed.last != nil else { throw AuditStoreError(.io, "the checkpoint signer returned no checkpoint") }
                    for signed in signed {
                        try db.execute(
                            sql: "INSERT INTO audit_checkpoint (\(AuditSchema.checkpointColumns)) VALUES (?, ?, ?, ?, ?)",
                            arguments: [signed.sequence, signed.headHash, AuditTimestamp.format(signed.timestamp), signed.keyID, signed.signature])
                    }
                    checkpoint = signed.last
                    return .commit
                }
                return checkpoint!
            }
        }
    }

    /// Has the signing helper accept the log as it is now, without a signature (see ``SignerClient/accept(sequence:headHash:records:)``).
    public func show(to helper: SignerClient) throws {
        try database("show the audit log to the signing helper") {
            try pool.read { db in
                let head = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_record ORDER BY sequence DESC LIMIT 1")
                try helper.accept(sequence: head?[0] ?? 0, headHash: head?[1] ?? AuditRecord.genesisHash) { after, limit in
                    try SQLiteStore.records(db, after: after, limit: limit)
                }
            }
        }
    }

    public func checkpoints() throws -> [AuditCheckpoint] {
        try database("read audit checkpoints") { try pool.read { try SQLiteStore.checkpoints($0) } }
    }

    static func checkpoints(_ db: Database) throws -> [AuditCheckpoint] {
        try Row.fetchAll(db, sql: "SELECT \(AuditSchema.checkpointColumns) FROM audit_checkpoint ORDER BY id").map { row in
            let text: String = row[2]
            guard let timestamp = AuditTimestamp.parse(text) else {
                throw AuditStoreError(.corruptRecord, "checkpoint at sequence \(row[0] as Int64) has an unreadable timestamp '\(text)'")
            }
            return AuditCheckpoint(sequence: row[0], headHash: row[1], timestamp: timestamp, signature: row[4], keyID: row[3])
        }
    }
}
