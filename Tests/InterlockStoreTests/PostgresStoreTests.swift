import Foundation
import InterlockTestSupport
import Testing
@testable import InterlockStore

/// What is particular to PostgreSQL: the database URL, connection failures, the schema's version, a server restart.
@Suite("PostgreSQL store", .serialized)
struct PostgresStoreTests {
    @Test func databaseURLsAreReadOrRefusedWithWhatToWrite() throws {
        #expect(try DatabaseURL.parse("sqlite:/var/lib/interlock/interlock.db") == .sqlite(path: "/var/lib/interlock/interlock.db"))
        guard case .postgres(let target) = try DatabaseURL.parse("postgres://interlock:s3cret@db.example.com:6432/plants?sslmode=verify-full") else {
            Issue.record("not a postgres URL")
            return
        }
        #expect(target.host == "db.example.com" && target.port == 6432 && target.user == "interlock" && target.database == "plants")
        #expect(target.password == "s3cret" && target.tls == .verifyFull)
        #expect(!target.redacted.contains("s3cret"))
        // The password from the environment, or a file.
        let dir = try TemporaryDirectory()
        try "from-file\n".write(toFile: dir.path + "/pw", atomically: true, encoding: .utf8)
        guard case .postgres(let fromFile) = try DatabaseURL.parse("postgres://i@h/d?passwordfile=\(dir.path)/pw", environment: ["PGPASSWORD": "env"]),
              case .postgres(let fromEnvironment) = try DatabaseURL.parse("postgres://i@h/d", environment: ["PGPASSWORD": "env"]) else {
            Issue.record("not postgres URLs")
            return
        }
        #expect(fromFile.password == "from-file" && fromEnvironment.password == "env" && fromEnvironment.tls == .disable)

        for (text, says) in [
            ("mysql://u@h/d", "neither sqlite: nor postgres://"),
            ("postgres://h/d", "names no user"),
            ("postgres://u@h", "names no database"),
            ("postgres://u:pw@h/d?sslmode=prefer", "sslmode 'prefer'"),
            ("postgres://u@h/d?ssl=true", "parameter 'ssl' is not known"),
            ("postgres://u@h/d?sslrootcert=/ca.pem", "only checked with sslmode=verify-full"),
            ("postgres://u@h/d?passwordfile=/nonexistent/pw", "cannot read the database password file"),
            ("sqlite:", "names no file"),
            ("postgres://interlock:top#secret@127.0.0.1/base", "percent-encode"),
            ("postgres://interlock:pw@127.0.0.1:99999/base", "a port is 1 to 65535"),
        ] {
            #expect { try DatabaseURL.parse(text) } throws: { "\($0)".contains(says) && !"\($0)".contains(":pw@") && !"\($0)".contains("secret") }
        }
    }

    @Test func aWrongPasswordOrAnUnreachableServerIsAClearErrorNamingTheDatabase() throws {
        var target = try PostgresCluster.shared.freshDatabase()
        target.password = "wrong"
        #expect { try PostgresStore(target) } throws: { error in
            "\(error)".contains(target.redacted) && "\(error)".contains("password authentication failed") && !"\(error)".contains("wrong")
        }
        var closed = target
        closed.port = 1
        let started = Date()
        #expect { try PostgresStore(closed, connectTimeout: 2) } throws: { "\($0)".contains("cannot connect to the database postgres://") }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func theSchemaMigratesOnceAndANewerSchemaIsRefused() throws {
        let target = try PostgresCluster.shared.freshDatabase()
        // Replicas starting together take turns migrating.
        let stores = Failures()
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            do { _ = try PostgresStore(target) } catch { stores.add("\(error)") }
        }
        #expect(stores.all == [])
        let store = try PostgresStore(target)
        #expect(try store.appliedMigrations() == PostgresSchema.migrationNames)
        let session = try PostgresSession(target)
        try session.withConnection { try $0.execute("INSERT INTO interlock_schema (name) VALUES ('pg-v99-future')") }
        #expect { try PostgresStore(target) } throws: { "\($0)".contains("pg-v99-future") && "\($0)".contains("upgrade Interlock") }
    }

    @Test func aServerRestartLosesNothingCommittedAndTheNextCallReconnects() throws {
        let cluster = PostgresCluster(name: "restart")
        let target = try cluster.freshDatabase()
        let store = try PostgresStore(target)
        let written = try store.append(contentsOf: Fixture.entries(10))
        try cluster.restart()
        // The first call after the restart may find the old connection gone; the one after reconnects.
        var appended: AuditRecord?
        for _ in 0..<5 where appended == nil {
            appended = try? store.append(Fixture.entry(10))
            if appended == nil { usleep(200_000) }
        }
        #expect(appended?.sequence == 11 && appended?.previousHash == written.last?.hash)
        #expect(try store.verify(trust: .none, keptCheckpoints: []).ok)
    }

    @Test func aConnectionTheServerClosedFailsTheCallInsteadOfHanging() throws {
        let target = try PostgresCluster.shared.freshDatabase()
        let store = try PostgresStore(target)
        let other = try PostgresSession(target)
        defer { other.close() }
        let started = Date()
        #expect(throws: (any Error).self) {
            try store.session.transaction("REPEATABLE READ") { connection in
                let pid = try connection.query("SELECT pg_backend_pid()").first?.integer(0) ?? 0
                // The backend is ended while this transaction sits idle between two statements.
                _ = try other.withConnection { try $0.query("SELECT pg_terminate_backend($1::int)", [.integer(pid)]) }
                usleep(300_000)
                _ = try connection.query("SELECT 1")
            }
        }
        #expect(Date().timeIntervalSince(started) < 30)
        // The next call connects again.
        #expect(try store.count() == 0)
    }

    @Test func aRowAddedWithARepeatedSequenceIsFoundEvenAtAPageBoundary() throws {
        let target = try PostgresCluster.shared.freshDatabase()
        let store = try PostgresStore(target)
        _ = try store.append(contentsOf: Fixture.entries(PostgresStore.pageSize + 5))
        let session = try PostgresSession(target)
        defer { session.close() }
        try session.transaction { connection in
            for constraint in ["audit_record_pkey", "audit_record_id_key", "audit_record_previous_hash_key", "audit_record_hash_key"] {
                try connection.execute("ALTER TABLE audit_record DROP CONSTRAINT \(constraint)")
            }
            try connection.execute("""
                INSERT INTO audit_record (\(AuditSchema.recordColumns))
                SELECT sequence, id, timestamp, 'mallory', 'Mallory', actor_role, actor_authentication, source_host, source_process,
                       source_pid, category, 'change.approved', site, resource, change_id, plan_id, commit_id, before_value, after_value,
                       reason, result, error, details, previous_hash, hash
                FROM audit_record WHERE sequence = \(PostgresStore.pageSize)
                """)
        }
        let result = try store.verify(trust: .none, keptCheckpoints: [])
        #expect(!result.ok)
        #expect(result.problems.contains { $0.message.contains("appear more than once") && $0.sequence == Int64(PostgresStore.pageSize) }, "\(result.problems)")
    }
}
