import Foundation
import GRDB
import PostgresNIO

/// The audit log in PostgreSQL, for deployments where several `interlock serve` replicas share one store and no single
/// machine holds the only copy of the trail. Same records, same hashes, same checkpoints as ``SQLiteStore``: a log
/// copied from one to the other verifies with the same head.
///
/// - Every append and checkpoint runs in one transaction that first takes a transaction-scoped advisory lock on the
///   chain (``PostgresSchema/chainLock``) and then reads the head: writers on any replica take turns, so the chain never
///   forks or skips a sequence (`sequence` is the primary key and `previous_hash` is unique besides).
/// - A record's timestamp never goes back along the chain, even when the replicas' clocks differ: a writer whose
///   clock is behind the head's time records the head's time and keeps its own reading in `clockSteppedBackTo`.
/// - Commits are durable when they return (PostgreSQL's `synchronous_commit`, on by default: keep it on).
/// - Triggers refuse UPDATE, DELETE and TRUNCATE of records and checkpoints (defence in depth, as in SQLite).
/// - Reads of many records page through one REPEATABLE READ snapshot: a verify sees one consistent log.
public final class PostgresStore: AuditLog, @unchecked Sendable {
    public let target: DatabaseURL.PostgresTarget
    let session: PostgresSession
    let clock: any AuditClock
    /// How long a claim holds without renewal, in the database's time (``ChangeStore/leaseDuration``).
    public let leaseDuration: TimeInterval
    /// Records per page when reading many.
    static let pageSize = 2_000
    /// Records per INSERT statement (25 parameters each; PostgreSQL allows 65,535 per statement).
    static let insertBatch = 1_000

    /// Connects and migrates the schema. The error says which database and why.
    public init(
        _ target: DatabaseURL.PostgresTarget, clock: any AuditClock = SystemAuditClock(), connectTimeout: TimeInterval = 10,
        leaseDuration: TimeInterval = SQLiteStore.defaultLeaseDuration, migrate: Bool = true
    ) throws {
        self.target = target
        self.clock = clock
        self.leaseDuration = leaseDuration
        session = try PostgresSession(target, connectTimeout: connectTimeout)
        if migrate {
            try database("migrate the schema") { try PostgresSchema.migrate(session) }
        } else {
            try database("read the schema version") { try PostgresSchema.requireExisting(session) }
        }
    }

    public func ping() throws {
        try database("reach the database") { try session.withConnection { try $0.execute("SELECT 1") } }
    }

    /// Closes the connection (it is also closed when the store is released).
    public func close() { session.close() }

    /// Runs `body`, turning database errors into an ``AuditStoreError`` that says what was being done and where.
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
            throw AuditStoreError(.database, "cannot \(what) in \(target.redacted): \(error)")
        }
    }

    /// The applied schema migrations, oldest first.
    public func appliedMigrations() throws -> [String] {
        try database("read the schema version") {
            try session.withConnection { try $0.query("SELECT name FROM interlock_schema ORDER BY applied_at, name").compactMap { try $0.text(0) } }
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
            try session.transaction { try appendRecords(entries, in: $0) }
        }
    }

    /// Appends inside the caller's transaction, after taking the chain lock, so a state change and the records
    /// describing it commit together.
    func appendRecords(_ entries: [AuditEntry], in connection: PostgresSessionConnection) throws -> [AuditRecord] {
        for entry in entries { try entry.validate() }
        try lockChain(connection)
        var chain = AuditChainAppender(head: try PostgresStore.headLink(connection), clock: clock)
        let records = entries.map { chain.next($0) }
        try PostgresStore.insert(records, in: connection)
        return records
    }

    /// Inserts records as they are, a batch of rows per statement.
    static func insert(_ records: [AuditRecord], in connection: PostgresSessionConnection) throws {
        for batch in stride(from: 0, to: records.count, by: insertBatch) {
            let slice = records[batch..<min(records.count, batch + insertBatch)]
            var values: [PostgresValue] = []
            values.reserveCapacity(slice.count * AuditSchema.recordColumnCount)
            var rows: [String] = []
            for record in slice {
                let first = values.count
                values += PostgresStore.values(of: record)
                rows.append("(" + (1...AuditSchema.recordColumnCount).map { "$\(first + $0)" }.joined(separator: ",") + ")")
            }
            try connection.query("INSERT INTO audit_record (\(AuditSchema.recordColumns)) VALUES \(rows.joined(separator: ","))", values)
        }
    }

    /// Takes the chain's lock until the transaction ends.
    func lockChain(_ connection: PostgresSessionConnection) throws {
        try connection.query("SELECT pg_advisory_xact_lock($1)", [.integer(PostgresSchema.chainLock)])
    }

    static func headLink(_ connection: PostgresSessionConnection) throws -> (sequence: Int64, hash: String, timestamp: String)? {
        guard let row = try connection.query("SELECT sequence, hash, timestamp FROM audit_record ORDER BY sequence DESC LIMIT 1").first else { return nil }
        return (try row.integer(0) ?? 0, try row.text(1) ?? "", try row.text(2) ?? "")
    }

    static func values(of r: AuditRecord) -> [PostgresValue] {
        [
            .integer(r.sequence), .text(r.id), .text(r.timestampText), .text(r.actor.id), .text(r.actor.name),
            .text(r.actor.role), .text(r.actor.authentication), .text(r.source.host), .text(r.source.process),
            .integer(r.source.pid), .text(r.category.rawValue), .text(r.action), .text(r.site), .text(r.resource),
            .text(r.changeID), .text(r.planID), .text(r.commit), .text(r.before), .text(r.after), .text(r.reason),
            .text(r.result.rawValue), .text(r.error), .text(FlatJSONObject.canonical(r.details)), .text(r.previousHash),
            .text(r.hash),
        ]
    }

    // MARK: - Checkpoints

    public func checkpoint(signingKey: AuditSigningKey) throws -> AuditCheckpoint {
        try checkpoint(signer: signingKey)
    }

    /// Signs the head with `signer` while holding the chain lock (the head cannot move meanwhile) and stores the
    /// checkpoint. A signing helper is shown the records since the head it accepted last.
    public func checkpoint(signer: some CheckpointSigner) throws -> AuditCheckpoint {
        try database("write an audit checkpoint") {
            try session.transaction { connection in
                try lockChain(connection)
                let head = try PostgresStore.headLink(connection)
                let signed = try signer.signCheckpoint(
                    sequence: head?.sequence ?? 0, headHash: head?.hash ?? AuditRecord.genesisHash, now: clock.now()
                ) { after, limit in try PostgresStore.records(connection, after: after, limit: limit) }
                guard let last = signed.last else { throw AuditStoreError(.io, "the checkpoint signer returned no checkpoint") }
                for checkpoint in signed {
                    try connection.query(
                        "INSERT INTO audit_checkpoint (\(AuditSchema.checkpointColumns)) VALUES ($1, $2, $3, $4, $5)",
                        [.integer(checkpoint.sequence), .text(checkpoint.headHash), .text(AuditTimestamp.format(checkpoint.timestamp)),
                         .text(checkpoint.keyID), .text(checkpoint.signature)])
                }
                return last
            }
        }
    }

    /// Has the signing helper accept the log as it is now, without a signature.
    public func show(to helper: SignerClient) throws {
        try database("show the audit log to the signing helper") {
            try session.transaction("REPEATABLE READ") { connection in
                let head = try PostgresStore.headLink(connection)
                try helper.accept(sequence: head?.sequence ?? 0, headHash: head?.hash ?? AuditRecord.genesisHash) { after, limit in
                    try PostgresStore.records(connection, after: after, limit: limit)
                }
            }
        }
    }

    public func checkpoints() throws -> [AuditCheckpoint] {
        try database("read audit checkpoints") { try session.withConnection { try PostgresStore.checkpoints($0) } }
    }

    static func checkpoints(_ connection: PostgresSessionConnection) throws -> [AuditCheckpoint] {
        try connection.query("SELECT \(AuditSchema.checkpointColumns) FROM audit_checkpoint ORDER BY id").map { row in
            let sequence = try row.integer(0) ?? 0
            let text = try row.text(2) ?? ""
            guard let timestamp = AuditTimestamp.parse(text) else {
                throw AuditStoreError(.corruptRecord, "checkpoint at sequence \(sequence) has an unreadable timestamp '\(text)'")
            }
            return AuditCheckpoint(
                sequence: sequence, headHash: try row.text(1) ?? "", timestamp: timestamp, signature: try row.text(4) ?? "",
                keyID: try row.text(3) ?? "")
        }
    }

    // MARK: - Reading

    public func records(matching query: AuditQuery) throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        try forEachRecord(matching: query) { records.append($0) }
        return records
    }

    /// Calls `body` with each matching record, ascending, from one snapshot, a page at a time.
    public func forEachRecord(matching query: AuditQuery, _ body: (AuditRecord) throws -> Void) throws {
        try database("read audit records") {
            try session.transaction("REPEATABLE READ") { connection in
                try PostgresStore.pages(of: query, in: connection) { result in
                    switch result {
                    case .success(let record): try body(record)
                    case .failure(let problem): throw AuditStoreError(.corruptRecord, problem.message)
                    }
                }
            }
        }
    }

    /// Each matching row, decoded, a page at a time (a query with its own limit is read at once).
    static func pages(of query: AuditQuery, in connection: PostgresSessionConnection, _ body: (Result<AuditRecord, AuditProblem>) throws -> Void) throws {
        if query.limit != nil {
            let (sql, values) = AuditQuerySQL.select(query, dialect: .postgres)
            for row in try connection.query(sql, values.map(\.postgres)) { try body(decode(row)) }
            return
        }
        var page = query
        page.limit = pageSize
        page.keepNewest = false
        let upper = query.sequences?.upperBound ?? .max
        var lower = query.sequences?.lowerBound ?? .min
        while lower <= upper {
            page.sequences = lower...upper
            let (sql, values) = AuditQuerySQL.select(page, dialect: .postgres)
            let rows = try connection.query(sql, values.map(\.postgres))
            for row in rows {
                let sequence = try row.integer(0) ?? 0
                try body(decode(row))
                lower = sequence == .max ? sequence : sequence + 1
                if sequence == .max { return }
            }
            if rows.count < pageSize { return }
        }
    }

    /// At most `limit` records after sequence `after`, ascending.
    static func records(_ connection: PostgresSessionConnection, after: Int64, limit: Int) throws -> [AuditRecord] {
        try connection.query(
            "SELECT \(AuditSchema.recordColumns) FROM audit_record WHERE sequence > $1 ORDER BY sequence LIMIT $2",
            [.integer(after), .integer(Int64(limit))]
        ).map { row in
            switch decode(row) {
            case .success(let record): return record
            case .failure(let problem): throw AuditStoreError(.corruptRecord, problem.message)
            }
        }
    }

    public func record(sequence: Int64) throws -> AuditRecord? {
        try records(matching: AuditQuery(sequences: sequence...sequence)).first
    }

    public func count() throws -> Int64 {
        try database("count audit records") {
            try session.withConnection { try $0.query("SELECT count(*)::BIGINT FROM audit_record").first?.integer(0) ?? 0 }
        }
    }

    public func head() throws -> AuditRecord? {
        try database("read the newest audit record") {
            try session.withConnection { connection in
                try connection.query("SELECT \(AuditSchema.recordColumns) FROM audit_record ORDER BY sequence DESC LIMIT 1").first.map { row in
                    switch PostgresStore.decode(row) {
                    case .success(let record): return record
                    case .failure(let problem): throw AuditStoreError(.corruptRecord, problem.message)
                    }
                }
            }
        }
    }

    /// Recomputes the whole chain and checks every checkpoint, from one snapshot of the database. Unreadable rows are
    /// reported as problems, not thrown. See ``SQLiteStore/verify(trust:keptCheckpoints:)``.
    public func verify(trust: CheckpointTrust, keptCheckpoints: [AuditCheckpoint] = []) throws -> AuditVerification {
        try database("verify the audit log") {
            try session.transaction("REPEATABLE READ") { connection in
                var verifier = AuditChainVerifier(checkpoints: try PostgresStore.checkpoints(connection) + keptCheckpoints, trust: trust)
                var seen: Int64 = 0
                try PostgresStore.pages(of: AuditQuery(), in: connection) { result in
                    seen += 1
                    switch result {
                    case .success(let record): verifier.add(record)
                    case .failure(let problem): verifier.addMalformed(problem)
                    }
                }
                // Reading pages by sequence cannot see a second row with a sequence already read (possible only once
                // the primary key was dropped): the table's row count, in the same snapshot, tells.
                let rows = try connection.query("SELECT count(*)::BIGINT FROM audit_record").first?.integer(0) ?? 0
                if rows != seen {
                    let repeated = try connection.query(
                        "SELECT sequence FROM audit_record GROUP BY sequence HAVING count(*) > 1 ORDER BY sequence LIMIT 10"
                    ).compactMap { try $0.integer(0) }
                    verifier.addMalformed(AuditProblem(
                        sequence: repeated.first ?? 0, kind: .malformedRecord,
                        message: "the table holds \(rows) rows but \(seen) distinct sequences were read: sequence(s) \(repeated.map(String.init).joined(separator: ", ")) appear more than once (the primary key was removed and rows added)"))
                }
                return verifier.finish()
            }
        }
    }

    /// A row of ``AuditSchema/recordColumns`` as a record, or why it cannot be one (the SQLite decoder's rules).
    static func decode(_ row: PostgresRow) -> Result<AuditRecord, AuditProblem> {
        var values: [DatabaseValue] = []
        values.reserveCapacity(AuditSchema.recordColumnCount)
        var names: [String] = []
        for cell in row {
            names.append(cell.columnName)
            guard cell.bytes != nil else {
                values.append(.null)
                continue
            }
            if cell.dataType == .int8 || cell.dataType == .int4 {
                values.append(((try? cell.decode(Int64.self)) ?? 0).databaseValue)
            } else {
                values.append(((try? cell.decode(String.self)) ?? "").databaseValue)
            }
        }
        guard values.count == AuditSchema.recordColumnCount else {
            return .failure(AuditProblem(sequence: 0, kind: .malformedRecord, message: "a row has \(values.count) columns, not \(AuditSchema.recordColumnCount)"))
        }
        return SQLiteStore.decode(DecodedColumns(values: values, names: names))
    }

    private struct DecodedColumns: AuditRecordColumns {
        let values: [DatabaseValue]
        let names: [String]
        func value(_ field: AuditField) -> DatabaseValue { values[field.rawValue] }
        func name(of field: AuditField) -> String { names[field.rawValue] }
    }

    // MARK: - Settings

    public func setting(_ key: String) throws -> String? {
        try database("read the setting \(key)") {
            try session.withConnection { try $0.query("SELECT value FROM instance_setting WHERE key = $1", [.text(key)]).first?.text(0) }
        }
    }

    /// Sets `values` and appends `entries` in one transaction.
    public func setSettings(_ values: [String: String], entries: [AuditEntry]) throws {
        for entry in entries { try entry.validate() }
        try database("record settings \(values.keys.sorted().joined(separator: ", "))") {
            try session.transaction { connection in
                for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                    try connection.query(
                        "INSERT INTO instance_setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        [.text(key), .text(value)])
                }
                _ = try appendRecords(entries, in: connection)
            }
        }
    }
}

extension PostgresStore {
    // MARK: - Copying (`interlock store copy`)

    public func allSettings() throws -> [String: String] {
        try database("read the settings") {
            try session.withConnection { connection in
                Dictionary(try connection.query("SELECT key, value FROM instance_setting").map { (try $0.text(0) ?? "", try $0.text(1) ?? "") }) { $1 }
            }
        }
    }

    public func importRecords(_ records: [AuditRecord]) throws {
        guard !records.isEmpty else { return }
        try database("copy \(records.count) audit record(s)") {
            try session.transaction { connection in
                try lockChain(connection)
                try Self.checkContinues(records, head: try PostgresStore.headLink(connection).map { ($0.sequence, $0.hash) })
                try PostgresStore.insert(records, in: connection)
            }
        }
    }

    public func importCheckpoints(_ checkpoints: [AuditCheckpoint], settings: [String: String]) throws {
        try database("copy \(checkpoints.count) checkpoint(s)") {
            try session.transaction { connection in
                for checkpoint in checkpoints {
                    try connection.query(
                        "INSERT INTO audit_checkpoint (\(AuditSchema.checkpointColumns)) VALUES ($1, $2, $3, $4, $5)",
                        [.integer(checkpoint.sequence), .text(checkpoint.headHash), .text(AuditTimestamp.format(checkpoint.timestamp)),
                         .text(checkpoint.keyID), .text(checkpoint.signature)])
                }
                for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
                    try connection.query(
                        "INSERT INTO instance_setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        [.text(key), .text(value)])
                }
            }
        }
    }
}

extension PostgresStore {
    public func exportQueue() throws -> QueueTables.Snapshot {
        try database("read the change queue") {
            try session.transaction("REPEATABLE READ") { connection in
                var snapshot: QueueTables.Snapshot = [:]
                for table in QueueTables.tables {
                    snapshot[table.name] = try connection.query("SELECT \(table.columnList) FROM \(table.name) ORDER BY \(table.order)").map { row in
                        try table.columns.enumerated().map { index, column -> QueueTables.Cell in
                            switch column.kind {
                            case .text: return try row.text(index).map { .text($0) } ?? .null
                            case .integer: return try row.integer(index).map { .integer($0) } ?? .null
                            case .bytes: return try row.bytes(index).map { .bytes($0) } ?? .null
                            }
                        }
                    }
                }
                return snapshot
            }
        }
    }

    public func importQueue(_ snapshot: QueueTables.Snapshot) throws {
        try database("copy the change queue") {
            try session.transaction { connection in
                try lockChain(connection)
                for table in QueueTables.tables {
                    guard try connection.query("SELECT count(*)::BIGINT FROM \(table.name)").first?.integer(0) == 0 else {
                        throw AuditStoreError(.invalidEntry, "the target \(target.redacted) already holds rows in \(table.name); copy only into an empty database")
                    }
                    let placeholders = table.columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
                    for row in snapshot[table.name] ?? [] {
                        try connection.query("INSERT INTO \(table.name) (\(table.columnList)) VALUES (\(placeholders))", zip(row, table.columns).map { cell, column in
                            switch cell {
                            case .null:
                                switch column.kind {
                                case .text: return .text(nil)
                                case .integer: return .integer(nil)
                                case .bytes: return .bytes(nil)
                                }
                            case .text(let text): return column.kind == .bytes ? .bytes(Data(text.utf8)) : .text(text)
                            case .integer(let number): return .integer(number)
                            case .bytes(let data): return .bytes(data)
                            }
                        })
                    }
                }
            }
        }
    }
}

extension AuditQuerySQL.Value {
    var postgres: PostgresValue {
        switch self {
        case .text(let text): return .text(text)
        case .integer(let number): return .integer(number)
        }
    }
}
