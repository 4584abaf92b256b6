import Foundation

extension PostgresStore: ConsoleSessionStore {
    public func insertSession(_ session: StoredConsoleSession, idleBefore: Date, startedBefore: Date) throws {
        try database("store a console session") {
            try self.session.transaction { connection in
                try connection.query("DELETE FROM console_session WHERE last_seen < $1 OR created_at < $2",
                                     [.double(idleBefore.timeIntervalSince1970), .double(startedBefore.timeIntervalSince1970)])
                try connection.query(
                    "INSERT INTO console_session (key, user_id, credential, csrf_token, created_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6)",
                    [.text(session.key), .text(session.userID), .text(session.credential), .text(session.csrfToken), .double(session.createdAt.timeIntervalSince1970),
                     .double(session.lastSeen.timeIntervalSince1970)])
            }
        }
    }

    public func session(key: String) throws -> StoredConsoleSession? {
        try database("read a console session") {
            try self.session.withConnection { connection in
                try connection.query("SELECT user_id, credential, csrf_token, created_at, last_seen FROM console_session WHERE key = $1", [.text(key)])
                    .first.map { row in
                        let cells = row.makeRandomAccess()
                        return StoredConsoleSession(key: key, userID: try row.text(0) ?? "", credential: try row.text(1) ?? "",
                                                    csrfToken: try row.text(2) ?? "",
                                                    createdAt: Date(timeIntervalSince1970: try cells[3].decode(Double.self)),
                                                    lastSeen: Date(timeIntervalSince1970: try cells[4].decode(Double.self)))
                    }
            }
        }
    }

    public func touchSession(key: String, lastSeen: Date) throws {
        try database("touch a console session") {
            try self.session.withConnection { connection in
                try connection.query("UPDATE console_session SET last_seen = $1 WHERE key = $2 AND last_seen < $1",
                                     [.double(lastSeen.timeIntervalSince1970), .text(key)])
            }
        }
    }

    public func deleteSession(key: String) throws {
        try database("end a console session") {
            try self.session.withConnection { try $0.query("DELETE FROM console_session WHERE key = $1", [.text(key)]) }
        }
    }

}
