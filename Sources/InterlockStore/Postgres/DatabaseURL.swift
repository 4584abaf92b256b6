import Foundation

/// Where the store lives: `sqlite:/path/to/interlock.db` (the embedded default) or
/// `postgres://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=…&passwordfile=…]`.
///
/// The password comes from the URL, from `passwordfile=` (a file only the service reads; its first line), or from
/// `$PGPASSWORD`, in that order. `sslmode` is `disable`, `require` (encrypted, certificate not checked) or
/// `verify-full` (the server's certificate must chain to `sslrootcert`, or the system's roots, and name the host).
public enum DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresTarget)

    public struct PostgresTarget: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var tls: TLSMode
        /// CA certificates (PEM) that must sign the server's certificate with `verify-full`.
        public var rootCertificates: String?

        /// The URL without its password, for messages and logs.
        public var redacted: String {
            "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)?sslmode=\(tls.rawValue)"
        }
    }

    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable
        case require
        case verifyFull = "verify-full"
    }

    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let target): return target.redacted
        }
    }

    /// Reads a URL; the error names what is wrong and how to write it.
    public static func parse(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DatabaseURL {
        let usage = "write sqlite:/path/to/interlock.db or postgres://user@host:5432/database?sslmode=verify-full"
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { throw AuditStoreError(.invalidEntry, "database URL '\(text)' names no file: \(usage)") }
            return .sqlite(path: path)
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            throw AuditStoreError(.invalidEntry, "database URL '\(redact(text))' is neither sqlite: nor postgres://: \(usage)")
        }
        guard let components = URLComponents(string: text) else {
            throw AuditStoreError(.invalidEntry, "database URL '\(redact(text))' cannot be read as a URL: percent-encode special characters of the user and password (# as %23, @ as %40, / as %2F, : as %3A), and give the port as a number")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw AuditStoreError(.invalidEntry, "database URL '\(redact(text))' names port \(port): a port is 1 to 65535")
        }
        guard let host = components.host, !host.isEmpty else {
            throw AuditStoreError(.invalidEntry, "database URL '\(redact(text))' names no host: \(usage)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw AuditStoreError(.invalidEntry, "database URL '\(redact(text))' names no user (postgres://USER@host/…): \(usage)")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw AuditStoreError(.invalidEntry, "database URL '\(redact(text))' names no database (…@host/DATABASE): \(usage)")
        }
        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard ["sslmode", "sslrootcert", "passwordfile"].contains(item.name) else {
                throw AuditStoreError(.invalidEntry, "database URL parameter '\(item.name)' is not known; the parameters are sslmode, sslrootcert and passwordfile")
            }
            parameters[item.name] = item.value ?? ""
        }
        let modeText = parameters["sslmode"] ?? "disable"
        guard let tls = TLSMode(rawValue: modeText) else {
            throw AuditStoreError(.invalidEntry, "database URL sslmode '\(modeText)' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var password = components.password
        if password == nil, let file = parameters["passwordfile"] {
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw AuditStoreError(.io, "cannot read the database password file \(file) named by passwordfile= in the database URL")
            }
            password = contents.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        }
        if password == nil { password = environment["PGPASSWORD"] }
        if let root = parameters["sslrootcert"], tls != .verifyFull {
            throw AuditStoreError(.invalidEntry, "database URL names sslrootcert=\(root) but sslmode is \(tls.rawValue): the certificate is only checked with sslmode=verify-full")
        }
        return .postgres(PostgresTarget(
            host: host, port: components.port ?? 5432, user: user, password: password, database: database, tls: tls,
            rootCertificates: parameters["sslrootcert"]))
    }

    /// `text` with any password replaced, for error messages.
    static func redact(_ text: String) -> String {
        // Whatever follows the scheme up to the last '@' is user and password: only the user (up to the first ':')
        // is kept. This holds for URLs too malformed to parse, whose messages must not show a password either.
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
