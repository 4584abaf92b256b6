import Foundation

/// `interlock store copy`: moves an audit log, its checkpoints, the instance's settings and the change queue to
/// another store (SQLite to PostgreSQL, or back) record for record, hashes and all, so `interlock audit verify` reports
/// the same head on both. The target must be empty; the source must verify before anything is written, and the target is verified
/// after, against the source's head.
public enum AuditStoreCopy {
    public struct Report: Sendable {
        public var records: Int64
        public var checkpoints: Int
        public var settings: Int
        /// Rows of the change queue copied, by table.
        public var queue: [String: Int]
        public var headSequence: Int64
        public var headHash: String
    }

    /// Records per transaction on the target.
    static let batch = 5_000

    public static func copy(from source: any AuditStore, to target: any AuditStore, progress: (Int64) -> Void = { _ in }) throws -> Report {
        let before = try source.verify(trust: .none, keptCheckpoints: [])
        guard before.ok else {
            let first = before.firstProblem.map { "record \($0.sequence): \($0.message)" } ?? "?"
            throw AuditStoreError(.corruptRecord, "the source log \(source.location) does not verify (\(first)); nothing was copied: run 'interlock audit verify' on it and keep it as evidence")
        }
        // The outbox is not copied: a message still waiting would be lost without a word.
        if let pending = try (source as? any NotificationOutbox)?.notificationCounts()[.pending], pending > 0 {
            throw AuditStoreError(.invalidEntry, "the source \(source.location) has \(pending) notification(s) not yet delivered; nothing was copied: let 'interlock serve' deliver them (or give them up) first, see 'interlock notifications --status pending'")
        }
        let queue = try source.exportQueue()
        guard try target.count() == 0, try target.checkpoints().isEmpty, try target.exportQueue().values.allSatisfy(\.isEmpty) else {
            throw AuditStoreError(.invalidEntry, "the target \(target.location) already holds an audit log; copy only into an empty database")
        }
        // Settings nobody recorded (which configuration is trusted, where the signing helper is) must not ride along.
        let planted = try target.allSettings()
        guard planted.isEmpty else {
            throw AuditStoreError(.invalidEntry, "the target \(target.location) already holds settings (\(planted.keys.sorted().joined(separator: ", "))); copy only into an empty database")
        }
        do {
            return try copyChecked(from: source, to: target, verified: before, queue: queue, progress: progress)
        } catch {
            let left = (try? target.count()) ?? -1
            guard left != 0 else { throw error }
            throw AuditStoreError(.database, "the copy into \(target.location) failed after \(left) record(s) had been written: \(error). The target now holds a partial log: drop and re-create that database (or delete the file) before copying again; the source is unchanged")
        }
    }

    private static func copyChecked(
        from source: any AuditStore, to target: any AuditStore, verified before: AuditVerification, queue: QueueTables.Snapshot,
        progress: (Int64) -> Void
    ) throws -> Report {
        var pending: [AuditRecord] = []
        var copied: Int64 = 0
        try source.forEachRecord(matching: .all) { record in
            guard record.sequence <= before.lastSequence else { return }  // written after the check: not part of this copy
            pending.append(record)
            if pending.count == batch {
                try target.importRecords(pending)
                copied += Int64(pending.count)
                pending.removeAll(keepingCapacity: true)
                progress(copied)
            }
        }
        try target.importRecords(pending)
        copied += Int64(pending.count)
        progress(copied)
        let checkpoints = try source.checkpoints().filter { $0.sequence <= before.lastSequence }
        let settings = try source.allSettings()
        try target.importCheckpoints(checkpoints, settings: settings)
        try target.importQueue(queue)
        let copiedQueue = try target.exportQueue()
        guard copiedQueue == queue else {
            throw AuditStoreError(.database, "the change queue in \(target.location) does not read back as it was copied")
        }
        let after = try target.verify(trust: .none, keptCheckpoints: [])
        guard after.ok, after.lastSequence == before.lastSequence, after.headHash == before.headHash else {
            throw AuditStoreError(.database, "the copy in \(target.location) does not verify with the source's head #\(before.lastSequence) \(before.headHash) (it has #\(after.lastSequence) \(after.headHash)\(after.firstProblem.map { ", \($0.message)" } ?? ""))")
        }
        return Report(
            records: copied, checkpoints: checkpoints.count, settings: settings.count,
            queue: queue.mapValues(\.count), headSequence: after.lastSequence, headHash: after.headHash)
    }
}
