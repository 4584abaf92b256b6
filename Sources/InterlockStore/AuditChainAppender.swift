import Foundation

/// Links new entries to a log's head: the one place records get their sequence, timestamp and hashes, whichever
/// database stores them. The caller holds the database's write lock from reading the head until the records are
/// stored, so no other writer can move the head meanwhile.
struct AuditChainAppender {
    private(set) var sequence: Int64
    private(set) var previousHash: String
    private var lastTime: Date
    private var hasher = AuditHasher()
    private let annotations = AuditAnnotations.current
    private let clock: any AuditClock

    /// Starts at the head (sequence, hash and timestamp text of the newest record), or at the genesis for an empty log.
    init(head: (sequence: Int64, hash: String, timestamp: String)?, clock: any AuditClock) {
        sequence = head?.sequence ?? 0
        previousHash = head?.hash ?? AuditRecord.genesisHash
        lastTime = head.flatMap { AuditTimestamp.parse($0.timestamp) } ?? .distantPast
        self.clock = clock
    }

    /// The next record for `entry`, already hashed and linked.
    mutating func next(_ entry: AuditEntry) -> AuditRecord {
        sequence += 1
        var details = entry.details
        for (key, value) in annotations where details[key] == nil { details[key] = value }
        let reading = AuditTimestamp.truncated(clock.now())
        var timestamp = reading
        if reading < lastTime {
            // Never let the log go back in time (another writer's clock may be ahead); keep the clock's reading for
            // the auditor.
            timestamp = lastTime
            details["clockSteppedBackTo"] = AuditTimestamp.format(reading)
        }
        lastTime = timestamp
        var record = AuditRecord(
            sequence: sequence, id: UUID().uuidString.lowercased(), timestamp: timestamp,
            actor: entry.actor, source: entry.source, category: entry.category, action: entry.action,
            site: entry.site, resource: entry.resource, changeID: entry.changeID, planID: entry.planID,
            commit: entry.commit, before: entry.before, after: entry.after, reason: entry.reason,
            result: entry.result, error: entry.error, details: details, previousHash: previousHash, hash: ""
        )
        record.hash = hasher.hash(of: record)
        previousHash = record.hash
        return record
    }
}
