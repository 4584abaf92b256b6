import Crypto
import Foundation
import InterlockStore

/// A signed-in browser: which user, since when, and the CSRF token its forms must carry.
public struct Session: Sendable, Hashable {
    public var id: String
    public var userID: String
    /// The fingerprint of the user's credential at sign-in (``SessionStore/credential(of:)``).
    public var credential: String
    public var csrfToken: String
    public var createdAt: Date
    public var lastSeen: Date
}

/// The console's sessions. Ids are 256-bit random values, sent only in an HTTP-only, SameSite=Strict cookie; a session
/// ends after `idleTimeout` without requests or after `lifetime`.
///
/// With a ``ConsoleSessionStore`` (what `interlock serve` uses: the state database) every replica sees the same
/// sessions, and the database keeps only a hash of each id; without one (tests) they live in this process's memory.
public final class SessionStore: Sendable {
    public static let cookieName = "interlock_session"
    public let idleTimeout: TimeInterval
    public let lifetime: TimeInterval
    /// A session's last request is written back at most this often (not on every request).
    public let touchInterval: TimeInterval
    private let backing: (any ConsoleSessionStore)?
    private let sessions = Locked<[String: Session]>([:])

    public init(idleTimeout: TimeInterval = 30 * 60, lifetime: TimeInterval = 12 * 3600, touchInterval: TimeInterval = 60,
                backing: (any ConsoleSessionStore)? = nil) {
        self.idleTimeout = idleTimeout
        self.lifetime = lifetime
        self.touchInterval = touchInterval
        self.backing = backing
    }

    /// Starts a new session (a new id at every sign-in: no session fixation).
    public func create(userID: String, credential: String, now: Date = Date()) throws -> Session {
        let session = Session(id: Base64URL.random(32), userID: userID, credential: credential, csrfToken: Base64URL.random(32), createdAt: now, lastSeen: now)
        if let backing {
            try backing.insertSession(
                StoredConsoleSession(key: Self.key(session.id), userID: userID, credential: credential, csrfToken: session.csrfToken,
                                     createdAt: now, lastSeen: now),
                idleBefore: now.addingTimeInterval(-idleTimeout), startedBefore: now.addingTimeInterval(-lifetime))
            return session
        }
        sessions.withLock { all in
            all = all.filter { !self.expired(createdAt: $0.value.createdAt, lastSeen: $0.value.lastSeen, now: now) }
            all[session.id] = session
        }
        return session
    }

    /// The live session with this id, touched; nil when unknown or expired. Throws when the database cannot be read.
    public func session(id: String, now: Date = Date()) throws -> Session? {
        guard Self.isWellFormed(id) else { return nil }
        if let backing {
            let key = Self.key(id)
            guard let stored = try backing.session(key: key) else { return nil }
            if expired(createdAt: stored.createdAt, lastSeen: stored.lastSeen, now: now) {
                try backing.deleteSession(key: key)
                return nil
            }
            if now.timeIntervalSince(stored.lastSeen) >= touchInterval { try backing.touchSession(key: key, lastSeen: now) }
            return Session(id: id, userID: stored.userID, credential: stored.credential, csrfToken: stored.csrfToken, createdAt: stored.createdAt,
                           lastSeen: now)
        }
        return sessions.withLock { all in
            guard var session = all[id] else { return nil }
            if expired(createdAt: session.createdAt, lastSeen: session.lastSeen, now: now) {
                all[id] = nil
                return nil
            }
            session.lastSeen = now
            all[id] = session
            return session
        }
    }

    /// Ends the session on every replica.
    public func end(id: String) throws {
        if let backing { try backing.deleteSession(key: Self.key(id)) } else { sessions.withLock { $0[id] = nil } }
    }

    /// A fingerprint of what a user signs in with (the configured password hash): a session started before the
    /// password was changed in the configuration does not match it any more.
    public static func credential(of passwordHash: String?) -> String {
        String(key("credential:" + (passwordHash ?? "")).prefix(32))
    }

    /// What the database keeps for a session id: its SHA-256, hex.
    static func key(_ id: String) -> String {
        SHA256.hash(data: Array(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Ids are 43 base64url characters; anything else (a forged, oversized cookie) is not looked up.
    static func isWellFormed(_ id: String) -> Bool {
        id.utf8.count == 43 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }

    private func expired(createdAt: Date, lastSeen: Date, now: Date) -> Bool {
        now.timeIntervalSince(lastSeen) > idleTimeout || now.timeIntervalSince(createdAt) > lifetime
    }
}
