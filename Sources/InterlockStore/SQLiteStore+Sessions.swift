import Foundation
import GRDB

extension SQLiteStore: ConsoleSessionStore {
    public func insertSession(_ session: StoredConsoleSession, idleBefore: Date, startedBefore: Date) throws {
        try database("store a console session") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM console_session WHERE last_seen < ? OR created_at < ?",
                               arguments: [idleBefore.timeIntervalSince1970, startedBefore.timeIntervalSince1970])
                try db.execute(sql: "INSERT INTO console_session (key, user_id, credential, csrf_token, created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [session.key, session.userID, session.credential, session.csrfToken, session.createdAt.timeIntervalSince1970,
                                           session.lastSeen.timeIntervalSince1970])
            }
        }
    }

    public func session(key: String) throws -> StoredConsoleSession? {
        try database("read a console session") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT user_id, credential, csrf_token, created_at, last_seen FROM console_session WHERE key = ?", arguments: [key])
                    .map { row in
                        StoredConsoleSession(key: key, userID: row[0], credential: row[1], csrfToken: row[2], createdAt: Date(timeIntervalSince1970: row[3]),
                                             lastSeen: Date(timeIntervalSince1970: row[4]))
                    }
            }
        }
    }

    public func touchSession(key: String, lastSeen: Date) throws {
        try database("touch a console session") {
            try pool.write { db in
                try db.execute(sql: "UPDATE console_session SET last_seen = ? WHERE key = ? AND last_seen < ?",
                               arguments: [lastSeen.timeIntervalSince1970, key, lastSeen.timeIntervalSince1970])
            }
        }
    }

    public func deleteSession(key: String) throws {
        try database("end a console session") {
            try pool.write { try $0.execute(sql: "DELETE FROM console_session WHERE key = ?", arguments: [key]) }
        }
    }

}
