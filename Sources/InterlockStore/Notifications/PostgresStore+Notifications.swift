import Foundation
import PostgresNIO

extension PostgresStore: NotificationOutbox {
    static func notification(_ row: PostgresRow) throws -> OutboxNotification {
        OutboxNotification(
            id: try row.integer(0) ?? 0, key: try row.text(1) ?? "", event: try row.text(2) ?? "", site: try row.text(3), changeID: try row.text(4),
            channel: try row.text(5) ?? "", recipient: try row.text(6) ?? "", subject: try row.text(7) ?? "", text: try row.text(8) ?? "",
            html: try row.text(9), payload: try row.text(10), status: OutboxNotification.Status(rawValue: try row.text(11) ?? "") ?? .failed,
            attempts: Int(try row.integer(12) ?? 0), nextAttemptAt: try row.date(13) ?? .distantPast, lastError: try row.text(14),
            createdAt: try row.date(15) ?? .distantPast, sentAt: try row.date(16), claimedBy: try row.text(17), claimedUntil: try row.date(18))
    }

    public func notificationCursor() throws -> Int64? {
        try setting(SQLiteStore.notificationCursorKey).flatMap { Int64($0) }
    }

    public func enqueueNotifications(_ items: [NewNotification], cursorFrom from: Int64?, to: Int64?, at date: Date) throws -> Bool {
        try database("queue \(items.count) notification(s)") {
            try session.transaction { connection -> Bool in
                // The cursor row is locked for the transaction: a replica doing the same waits, then finds it moved.
                let current = try connection.query("SELECT value FROM instance_setting WHERE key = $1 FOR UPDATE", [.text(SQLiteStore.notificationCursorKey)])
                    .first.flatMap { try $0.text(0) }.flatMap { Int64($0) }
                guard current == from else { return false }
                if from == nil {
                    // Nobody has set it yet: take the row first, so a replica starting at the same moment conflicts.
                    let inserted = try connection.query(
                        "INSERT INTO instance_setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key",
                        [.text(SQLiteStore.notificationCursorKey), .text(String(to ?? 0))])
                    guard !inserted.isEmpty else { return false }
                }
                for item in items {
                    try connection.query("""
                        INSERT INTO notification (key, event, site, change_id, channel, recipient, subject, text, html, payload, status, attempts, next_attempt_at, created_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $11) ON CONFLICT (key) DO NOTHING
                        """, [.text(item.key), .text(item.event), .text(item.site), .text(item.changeID), .text(item.channel), .text(item.recipient),
                              .text(item.subject), .text(item.text), .text(item.html), .text(item.payload), .double(date.timeIntervalSince1970)])
                }
                if let to {
                    try connection.query("UPDATE instance_setting SET value = $2 WHERE key = $1", [.text(SQLiteStore.notificationCursorKey), .text(String(to))])
                }
                return true
            }
        }
    }

    public func claimNotifications(owner: String, now: Date, until: Date, limit: Int) throws -> [OutboxNotification] {
        try database("claim notifications") {
            try session.transaction { connection -> [OutboxNotification] in
                let rows = try connection.query("""
                    SELECT \(OutboxNotification.columns) FROM notification
                    WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
                    """, [.double(now.timeIntervalSince1970), .integer(Int64(limit))])
                var claimed: [OutboxNotification] = []
                for row in rows {
                    var item = try Self.notification(row)
                    if let previous = item.claimedBy { item.lastError = OutboxNotification.interrupted(by: previous) }
                    item.attempts += 1
                    item.claimedBy = owner
                    item.claimedUntil = until
                    try connection.query("UPDATE notification SET attempts = $1, claimed_by = $2, claimed_until = $3, last_error = $4 WHERE id = $5",
                                         [.integer(Int64(item.attempts)), .text(owner), .double(until.timeIntervalSince1970), .text(item.lastError), .integer(item.id)])
                    claimed.append(item)
                }
                return claimed
            }
        }
    }

    public func finishNotification(id: Int64, owner: String, outcome: DeliveryOutcome, at date: Date, entries: [AuditEntry]) throws -> Bool {
        for entry in entries { try entry.validate() }
        return try database("record a notification's delivery") {
            try session.transaction { connection -> Bool in
                let rows: [PostgresRow]
                switch outcome {
                case .sent:
                    rows = try connection.query(
                        "UPDATE notification SET status = 'sent', sent_at = $1, claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND claimed_by = $3 AND status = 'pending' RETURNING id",
                        [.double(date.timeIntervalSince1970), .integer(id), .text(owner)])
                case .retry(let at, let error):
                    rows = try connection.query(
                        "UPDATE notification SET next_attempt_at = $1, last_error = $2, claimed_by = NULL, claimed_until = NULL WHERE id = $3 AND claimed_by = $4 AND status = 'pending' RETURNING id",
                        [.double(at.timeIntervalSince1970), .text(error), .integer(id), .text(owner)])
                case .failed(let error):
                    rows = try connection.query(
                        "UPDATE notification SET status = 'failed', last_error = $1, claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND claimed_by = $3 AND status = 'pending' RETURNING id",
                        [.text(error), .integer(id), .text(owner)])
                }
                guard rows.count == 1 else { return false }
                _ = try appendRecords(entries, in: connection)
                return true
            }
        }
    }

    public func notifications(statuses: [OutboxNotification.Status], limit: Int) throws -> [OutboxNotification] {
        try database("read the notifications") {
            try session.withConnection { connection in
                let filter = statuses.isEmpty ? "" : "WHERE status IN (\(statuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")))"
                return try connection.query("SELECT \(OutboxNotification.columns) FROM notification \(filter) ORDER BY id DESC LIMIT $1", [.integer(Int64(limit))])
                    .map(Self.notification)
            }
        }
    }

    public func notificationCounts() throws -> [OutboxNotification.Status: Int] {
        try database("count the notifications") {
            try session.withConnection { connection in
                var counts: [OutboxNotification.Status: Int] = [:]
                for row in try connection.query("SELECT status, COUNT(*) FROM notification GROUP BY status") {
                    if let status = OutboxNotification.Status(rawValue: try row.text(0) ?? "") { counts[status] = Int(try row.integer(1) ?? 0) }
                }
                return counts
            }
        }
    }
}
