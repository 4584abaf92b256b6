import Foundation

/// One message to one recipient over one channel, kept in the store until it is delivered or given up: the outbox.
/// Notifications are derived from the audit log (and from conditions the server observes), so what people are told
/// never says more than the record.
public struct OutboxNotification: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case pending, sent, failed
    }

    public var id: Int64
    /// Unique per message: the same key is never queued twice (`record/<sequence>/<event>/<channel>/<recipient>`).
    public var key: String
    public var event: String
    public var site: String?
    public var changeID: String?
    /// `email` or `webhook`.
    public var channel: String
    /// An e-mail address, or a webhook's name.
    public var recipient: String
    public var subject: String
    public var text: String
    public var html: String?
    /// The webhook's body (JSON), for the webhook channel.
    public var payload: String?
    public var status: Status
    /// Delivery attempts started so far.
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var createdAt: Date
    public var sentAt: Date?
    /// The replica (host and process) holding the delivery, and until when.
    public var claimedBy: String?
    public var claimedUntil: Date?
}

/// A notification to queue.
public struct NewNotification: Sendable, Hashable {
    public var key: String
    public var event: String
    public var site: String?
    public var changeID: String?
    public var channel: String
    public var recipient: String
    public var subject: String
    public var text: String
    public var html: String?
    public var payload: String?

    public init(key: String, event: String, site: String?, changeID: String?, channel: String, recipient: String, subject: String, text: String,
                html: String? = nil, payload: String? = nil) {
        self.key = key
        self.event = event
        self.site = site
        self.changeID = changeID
        self.channel = channel
        self.recipient = recipient
        self.subject = subject
        self.text = text
        self.html = html
        self.payload = payload
    }
}

/// How a delivery attempt ended.
public enum DeliveryOutcome: Sendable, Hashable {
    case sent
    /// Try again at `at`.
    case retry(at: Date, error: String)
    /// Given up: every attempt failed.
    case failed(error: String)
}

/// The notifications outbox. With several replicas sharing a PostgreSQL store, each audit record is turned into
/// notifications once (the cursor moves only from where it was read) and each notification is claimed by one replica
/// at a time.
public protocol NotificationOutbox: Sendable {
    /// The sequence of the last audit record turned into notifications, or nil before the first time.
    func notificationCursor() throws -> Int64?

    /// Queues `items` (those whose key is already queued are skipped) and moves the cursor from `from` to `to`, in one
    /// transaction — only when the cursor still reads `from` (nil: not set); false when another replica moved it first,
    /// and nothing was queued.
    func enqueueNotifications(_ items: [NewNotification], cursorFrom from: Int64?, to: Int64?, at date: Date) throws -> Bool

    /// Claims up to `limit` pending notifications due at `now` (not claimed, or their claim expired) for `owner`
    /// until `until`, counting an attempt for each. A notification whose earlier claim expired unfinished carries the
    /// note that it may have been delivered already.
    func claimNotifications(owner: String, now: Date, until: Date, limit: Int) throws -> [OutboxNotification]

    /// Ends an attempt of `owner`'s claim, writing `entries` to the audit log with it; false when the claim was lost
    /// (it expired and another replica took the notification), in which case nothing is written.
    @discardableResult
    func finishNotification(id: Int64, owner: String, outcome: DeliveryOutcome, at date: Date, entries: [AuditEntry]) throws -> Bool

    /// The newest notifications with one of `statuses` (all when empty), newest first.
    func notifications(statuses: [OutboxNotification.Status], limit: Int) throws -> [OutboxNotification]

    /// How many notifications are in each status.
    func notificationCounts() throws -> [OutboxNotification.Status: Int]
}

extension OutboxNotification {
    /// The columns of the `notification` table, in the order the readers expect.
    static let columns = "id, key, event, site, change_id, channel, recipient, subject, text, html, payload, status, attempts, next_attempt_at, last_error, created_at, sent_at, claimed_by, claimed_until"

    /// The note a notification carries when an earlier attempt was interrupted (the process died or froze holding it).
    static func interrupted(by owner: String) -> String {
        "an earlier attempt by \(owner) was interrupted before its outcome was recorded; it may have been delivered"
    }
}
