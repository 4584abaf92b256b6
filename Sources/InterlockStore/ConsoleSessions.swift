import Foundation

/// A signed-in browser as the state database keeps it: every replica of `interlock serve` sees the same sessions, so
/// a load balancer needs no stickiness and a sign-out ends the session everywhere at once.
///
/// `key` is the SHA-256 of the cookie value, never the value itself: whoever reads the database (a backup, a
/// read-only role) cannot take over a session with what it finds there.
public struct StoredConsoleSession: Sendable, Hashable {
    public var key: String
    public var userID: String
    /// A fingerprint of the user's credential at sign-in: when the password in the configuration changes, the session
    /// no longer matches and ends.
    public var credential: String
    public var csrfToken: String
    public var createdAt: Date
    public var lastSeen: Date

    public init(key: String, userID: String, credential: String, csrfToken: String, createdAt: Date, lastSeen: Date) {
        self.key = key
        self.userID = userID
        self.credential = credential
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.lastSeen = lastSeen
    }
}

/// Where the console's sessions live. ``SQLiteStore`` and ``PostgresStore`` keep them in a table of their own (never
/// copied by `interlock store copy`, never part of the audit log: sign-ins and sign-outs are audited separately).
public protocol ConsoleSessionStore: Sendable {
    /// Stores a new session and deletes every session idle since before `idleBefore` or started before `startedBefore`.
    func insertSession(_ session: StoredConsoleSession, idleBefore: Date, startedBefore: Date) throws
    /// The session with this key (nil when there is none; expiry is the caller's to judge).
    func session(key: String) throws -> StoredConsoleSession?
    /// Moves a session's last request to `lastSeen` (never backwards).
    func touchSession(key: String, lastSeen: Date) throws
    /// Ends a session; ending one that does not exist is not an error.
    func deleteSession(key: String) throws
}
