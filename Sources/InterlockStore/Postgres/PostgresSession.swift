import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// One connection to PostgreSQL used from synchronous code: the store's contract is synchronous (every command, the
/// executor and the reconcile loop call it from their own threads, as they call SQLite), so each call blocks its
/// thread until the database answers. The connection's I/O runs on SwiftNIO's shared event loops, never on the caller's
/// thread, so blocking here cannot stall the network. One call at a time uses the connection (a lock); a store
/// that needs parallel writers opens several sessions. A connection that broke is replaced at the next call; a
/// transaction it was in is lost, and PostgreSQL rolls it back.
final class PostgresSession: @unchecked Sendable {
    let target: DatabaseURL.PostgresTarget
    private let configuration: PostgresConnection.Configuration
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var connectionCount = 0
    static let logger: Logger = {
        var logger = Logger(label: "interlock.postgres")
        logger.logLevel = .critical
        return logger
    }()

    init(_ target: DatabaseURL.PostgresTarget, connectTimeout: TimeInterval = 10) throws {
        self.target = target
        let tls: PostgresConnection.Configuration.TLS
        switch target.tls {
        case .disable:
            tls = .disable
        case .require, .verifyFull:
            var settings = TLSConfiguration.makeClientConfiguration()
            if target.tls == .require {
                settings.certificateVerification = .none
            } else {
                settings.certificateVerification = .fullVerification
                if let roots = target.rootCertificates {
                    do {
                        settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(roots))
                    } catch {
                        throw AuditStoreError(.invalidEntry, "cannot read the database CA certificates \(roots) (sslrootcert=): \(error)")
                    }
                }
            }
            do {
                tls = .require(try NIOSSLContext(configuration: settings))
            } catch {
                throw AuditStoreError(.invalidEntry, "cannot set up TLS for \(target.redacted): \(error)")
            }
        }
        var configuration = PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.user, password: target.password,
            database: target.database, tls: tls)
        configuration.options.connectTimeout = .milliseconds(Int64(connectTimeout * 1000))
        self.configuration = configuration
    }

    deinit {
        if let connection {
            // Kept alive until the close completes (a connection must be closed before it is released).
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }

    /// How long the server lets a session of ours sit idle inside a transaction (ours last milliseconds).
    static let idleInTransactionTimeout: TimeInterval = 15

    /// Runs `body` on the connection, alone; connects (again) first if needed.
    func withConnection<T>(_ body: (PostgresSessionConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let current: PostgresConnection
        if let connection, !connection.isClosed {
            current = connection
        } else {
            connection = nil
            do {
                connectionCount += 1
                current = try PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: connectionCount,
                    logger: PostgresSession.logger
                ).wait()
                // A process frozen inside a transaction (SIGSTOP, a paused VM) must not hold the chain lock for good:
                // the server ends such a session, and the frozen process's commit fails when it wakes.
                try PostgresSessionConnection(connection: current).execute("SET idle_in_transaction_session_timeout = '\(Int(PostgresSession.idleInTransactionTimeout))s'")
                connection = current
            } catch {
                throw AuditStoreError(.database, "cannot connect to the database \(target.redacted): \(PostgresSession.describe(error))")
            }
        }
        do {
            return try body(PostgresSessionConnection(connection: current))
        } catch {
            if current.isClosed { connection = nil }
            throw error
        }
    }

    /// Runs `body` in a transaction (committed when it returns, rolled back when it throws).
    func transaction<T>(_ isolation: String = "READ COMMITTED", _ body: (PostgresSessionConnection) throws -> T) throws -> T {
        try withConnection { connection in
            try connection.execute("BEGIN ISOLATION LEVEL \(isolation)")
            do {
                let result = try body(connection)
                try connection.execute("COMMIT")
                return result
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// A connection of its own (for LISTEN), outside the session's lock; the caller closes it.
    func makeConnection() async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: Int.random(in: 1_000_000...Int.max),
            logger: PostgresSession.logger
        ).get()
    }

    func close() {
        lock.lock()
        defer { lock.unlock() }
        if let connection {
            let closing: EventLoopFuture<Void> = connection.close()
            try? closing.wait()
        }
        connection = nil
    }

    /// What went wrong, with the server's message when there is one (PSQLError's own description hides it).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: error) }
        if let info = error.serverInfo {
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let detail = info[.detail].map { ": \($0)" } ?? ""
            return "\(info[.message] ?? "server error")\(detail)\(state)"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    /// The SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}

/// A value bound to a statement parameter.
enum PostgresValue: Sendable {
    case text(String?)
    case integer(Int64?)
    case bytes(Data?)
    case double(Double)
}

/// The connection a ``PostgresSession`` call runs on.
struct PostgresSessionConnection {
    let connection: PostgresConnection

    /// Runs a statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ values: [PostgresValue] = []) throws -> [PostgresRow] {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .text(let text): binds.append(text)
            case .integer(let number): binds.append(number)
            case .bytes(let data): binds.append(data.map { ByteBuffer(bytes: $0) })
            case .double(let number): binds.append(number)
            }
        }
        // A connection the server closed while it sat idle (a restart, an idle-in-transaction timeout, a terminated
        // backend) would leave the query waiting for ever: it is refused at once, and any query is given up after
        // `queryTimeout` with the connection closed, so the call fails instead of hanging.
        guard !connection.isClosed else {
            throw PostgresQueryError(error: ConnectionLost(description: "the connection to the database was closed"))
        }
        do {
            let future = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: PostgresSession.logger)
            let done = DispatchSemaphore(value: 0)
            let outcome = LockedResult()
            future.whenComplete { result in
                outcome.set(result)
                done.signal()
            }
            if done.wait(timeout: .now() + PostgresSessionConnection.queryTimeout) == .timedOut {
                let closing: EventLoopFuture<Void> = connection.close()
                closing.whenComplete { _ in }
                throw PostgresQueryError(error: ConnectionLost(description: "the database did not answer within \(Int(PostgresSessionConnection.queryTimeout)) s; the connection was closed"))
            }
            return Array(try outcome.get().rows)
        } catch let error as AuditStoreError {
            throw error
        } catch {
            throw PostgresQueryError(error: error)
        }
    }

    /// Runs one statement that takes no parameters (the extended protocol: one statement per call).
    func execute(_ sql: String) throws {
        try query(sql)
    }
}

extension PostgresSessionConnection {
    /// How long one statement may take before the connection is given up (every statement Interlock sends is short:
    /// reads page through large tables).
    static let queryTimeout: TimeInterval = 120
}

/// The connection was lost, or stopped answering.
struct ConnectionLost: Error, CustomStringConvertible {
    var description: String
}

/// A query's result, handed from the event loop to the waiting thread.
private final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<PostgresQueryResult, any Error>?
    func set(_ value: Result<PostgresQueryResult, any Error>) { lock.lock(); result = value; lock.unlock() }
    func get() throws -> PostgresQueryResult {
        lock.lock()
        defer { lock.unlock() }
        guard let result else { throw ConnectionLost(description: "the query ended without a result") }
        return try result.get()
    }
}

/// A statement the server refused, with its message and SQLSTATE.
struct PostgresQueryError: Error, CustomStringConvertible {
    var error: any Error
    var sqlState: String? { PostgresSession.sqlState(error) }
    var description: String { PostgresSession.describe(error) }
}

extension PostgresRow {
    /// The column at `index` as text (nil for NULL).
    func text(_ index: Int) throws -> String? {
        let cell = makeRandomAccess()[index]
        guard cell.bytes != nil else { return nil }
        return try cell.decode(String.self)
    }

    /// The column at `index` as bytes (nil for NULL).
    func bytes(_ index: Int) throws -> Data? {
        let cell = makeRandomAccess()[index]
        guard cell.bytes != nil else { return nil }
        return Data(try cell.decode(ByteBuffer.self).readableBytesView)
    }

    /// The column at `index` as a double (nil for NULL).
    func double(_ index: Int) throws -> Double? {
        let cell = makeRandomAccess()[index]
        guard cell.bytes != nil else { return nil }
        return try cell.decode(Double.self)
    }

    /// The column at `index`, seconds since 1970, as a date (nil for NULL).
    func date(_ index: Int) throws -> Date? { try double(index).map { Date(timeIntervalSince1970: $0) } }

    /// The column at `index` as a 64-bit integer (nil for NULL).
    func integer(_ index: Int) throws -> Int64? {
        let cell = makeRandomAccess()[index]
        guard cell.bytes != nil else { return nil }
        return try cell.decode(Int64.self)
    }
}
