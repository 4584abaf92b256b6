import Foundation
import GRDB

extension SQLiteStore: NotificationOutbox {
    static let notificationCursorKey = "notifications.cursor"

    static func notification(_ row: Row) -> OutboxNotification {
        func date(_ index: Int) -> Date? { (row[index] as Double?).map { Date(timeIntervalSince1970: $0) } }
        return OutboxNotification(
            id: row[0], key: row[1], event: row[2], site: row[3], changeID: row[4], channel: row[5], recipient: row[6], subject: row[7],
            text: row[8], html: row[9], payload: row[10], status: OutboxNotification.Status(rawValue: row[11]) ?? .failed, attempts: row[12],
            nextAttemptAt: date(13) ?? .distantPast, lastError: row[14], createdAt: date(15) ?? .distantPast, sentAt: date(16),
            claimedBy: row[17], claimedUntil: date(18))
    }

    public func notificationCursor() throws -> Int64? {
        try setting(Self.notificationCursorKey).flatMap { Int64($0) }
    }

    public func enqueueNotifications(_ items: [NewNotification], cursorFrom from: Int64?, to: Int64?, at date: Date) throws -> Bool {
        try writeTransaction("queue \(items.count) notification(s)") { db in
            let current = try String.fetchOne(db, sql: "SELECT value FROM instance_setting WHERE key = ?", arguments: [Self.notificationCursorKey]).flatMap { Int64($0) }
            guard current == from else { return false }
            for item in items {
                try db.execute(sql: """
                    INSERT INTO notification (key, event, site, change_id, channel, recipient, subject, text, html, payload, status, attempts, next_attempt_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (key) DO NOTHING
                    """, arguments: [item.key, item.event, item.site, item.changeID, item.channel, item.recipient, item.subject, item.text, item.html,
                                     item.payload, date.timeIntervalSince1970, date.timeIntervalSince1970])
            }
            if let to {
                try db.execute(sql: "INSERT OR REPLACE INTO instance_setting (key, value) VALUES (?, ?)", arguments: [Self.notificationCursorKey, String(to)])
            }
            return true
        }
    }

    public func claimNotifications(owner: String, now: Date, until: Date, limit: Int) throws -> [OutboxNotification] {
        try writeTransaction("claim notifications") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(OutboxNotification.columns) FROM notification
                WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
                ORDER BY id LIMIT ?
                """, arguments: [now.timeIntervalSince1970, now.timeIntervalSince1970, limit])
            var claimed: [OutboxNotification] = []
            for row in rows {
                var item = Self.notification(row)
                if let previous = item.claimedBy { item.lastError = OutboxNotification.interrupted(by: previous) }
                item.attempts += 1
                item.claimedBy = owner
                item.claimedUntil = until
                try db.execute(sql: "UPDATE notification SET attempts = ?, claimed_by = ?, claimed_until = ?, last_error = ? WHERE id = ?",
                               arguments: [item.attempts, owner, until.timeIntervalSince1970, item.lastError, item.id])
                claimed.append(item)
            }
            return claimed
        }
    }

    public func finishNotification(id: Int64, owner: String, outcome: DeliveryOutcome, at date: Date, entries: [AuditEntry]) throws -> Bool {
        for entry in entries { try entry.validate() }
        return try writeTransaction("record a notification's delivery") { db in
            switch outcome {
            case .sent:
                try db.execute(sql: "UPDATE notification SET status = 'sent', sent_at = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                               arguments: [date.timeIntervalSince1970, id, owner])
            case .retry(let at, let error):
                try db.execute(sql: "UPDATE notification SET next_attempt_at = ?, last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                               arguments: [at.timeIntervalSince1970, error, id, owner])
            case .failed(let error):
                try db.execute(sql: "UPDATE notification SET status = 'failed', last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                               arguments: [error, id, owner])
            }
            guard db.changesCount == 1 else { return false }
            _ = try self.appendRecords(entries, in: db)
            return true
        }
    }

    public func notifications(statuses: [OutboxNotification.Status], limit: Int) throws -> [OutboxNotification] {
        try database("read the notifications") {
            try pool.read { db in
                let filter = statuses.isEmpty ? "" : "WHERE status IN (\(statuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")))"
                return try Row.fetchAll(db, sql: "SELECT \(OutboxNotification.columns) FROM notification \(filter) ORDER BY id DESC LIMIT ?", arguments: [limit])
                    .map(Self.notification)
            }
        }
    }

    public func notificationCounts() throws -> [OutboxNotification.Status: Int] {
        try database("count the notifications") {
            try pool.read { db in
                var counts: [OutboxNotification.Status: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM notification GROUP BY status") {
                    if let status = OutboxNotification.Status(rawValue: row[0]) { counts[status] = row[1] }
                }
                return counts
            }
        }
    }
}
