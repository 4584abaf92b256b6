import Foundation

/// A signed-in browser: which user, since when, and the CSRF token its forms must carry.
public struct Session: Sendable, Hashable {
    public var id: String
    public var userID: String
    public var csrfToken: String
    public var createdAt: Date
    public var lastSeen: Date
}

/// Sessions in memory (a restart signs everyone out). Ids are 256-bit random values, sent only in an
/// HTTP-only, SameSite=Strict cookie; a session ends after `idleTimeout` without requests or after `lifetime`.
public final class SessionStore: Sendable {
    public static let cookieName = "interlock_session"
    public let idleTimeout: TimeInterval
    public let lifetime: TimeInterval
    private let sessions = Locked<[String: Session]>([:])

    public init(idleTimeout: TimeInterval = 30 * 60, lifetime: TimeInterval = 12 * 3600) {
        self.idleTimeout = idleTimeout
        self.lifetime = lifetime
    }

    /// Starts a new session (a new id at every sign-in: no session fixation).
    public func create(userID: String, now: Date = Date()) -> Session {
        let session = Session(id: Base64URL.random(32), userID: userID, csrfToken: Base64URL.random(32), createdAt: now, lastSeen: now)
        sessions.withLock { all in
            all = all.filter { !self.expired($0.value, now: now) }
            all[session.id] = session
        }
        return session
    }

    /// The live session with this id, touched; nil when unknown or expired.
    public func session(id: String, now: Date = Date()) -> Session? {
        sessions.withLock { all in
            guard var session = all[id] else { return nil }
            if expired(session, now: now) {
                all[id] = nil
                return nil
            }
            session.lastSeen = now
            all[id] = session
            return session
        }
    }

    public func end(id: String) { sessions.withLock { $0[id] = nil } }

    private func expired(_ session: Session, now: Date) -> Bool {
        now.timeIntervalSince(session.lastSeen) > idleTimeout || now.timeIntervalSince(session.createdAt) > lifetime
    }
}
