import Foundation
import InterlockTestSupport
import Testing
@testable import InterlockStore

extension PostgresCluster {
    /// A new, empty database on the cluster, as the store reads it.
    func freshDatabase() throws -> DatabaseURL.PostgresTarget {
        guard case .postgres(let target) = try DatabaseURL.parse(try freshDatabaseURL()) else {
            throw AuditStoreError(.io, "cluster.sh printed no postgres URL")
        }
        return target
    }
}

/// A store under test, with a way in around it (as someone with database access would have) and a way to open it
/// again as another process would.
final class StoreUnderTest {
    let kind: StoreKind
    let store: any AuditStore
    let url: DatabaseURL
    private let directory: TemporaryDirectory?

    init(_ kind: StoreKind, clock: any AuditClock = SteppingClock()) throws {
        self.kind = kind
        switch kind {
        case .sqlite:
            let directory = try TemporaryDirectory()
            self.directory = directory
            url = .sqlite(path: directory.databasePath)
        case .postgres:
            directory = nil
            url = .postgres(try PostgresCluster.shared.freshDatabase())
        }
        store = try AuditStores.open(url, clock: clock)
    }

    /// Another store on the same database (another connection, as another process or replica).
    func another(clock: any AuditClock = SteppingClock()) throws -> any AuditStore {
        try AuditStores.open(url, clock: clock)
    }

    /// Runs `statements` as the database's owner with the append-only triggers off, as a tamperer would.
    func tamper(_ statements: String...) throws {
        switch url {
        case .sqlite(let path):
            try Fixture.attacker(path).write { db in
                try Fixture.dropTriggers(db)
                for statement in statements { try db.execute(sql: statement) }
            }
        case .postgres(let target):
            let session = try PostgresSession(target)
            defer { session.close() }
            try session.transaction { connection in
                try connection.execute("ALTER TABLE audit_record DISABLE TRIGGER USER")
                try connection.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER")
                for statement in statements { try connection.execute(statement) }
                try connection.execute("ALTER TABLE audit_record ENABLE TRIGGER USER")
                try connection.execute("ALTER TABLE audit_checkpoint ENABLE TRIGGER USER")
            }
        }
    }

    /// Runs one statement through the store's own rules (triggers on).
    func execute(_ statement: String) throws {
        switch url {
        case .sqlite(let path):
            try Fixture.attacker(path).write { try $0.execute(sql: statement) }
        case .postgres(let target):
            let session = try PostgresSession(target)
            defer { session.close() }
            try session.withConnection { try $0.execute(statement) }
        }
    }
}
