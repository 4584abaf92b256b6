import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel
import InterlockStore
import InterlockTestSupport

/// Replicas sharing a PostgreSQL store hear of each other's queue changes at once (LISTEN/NOTIFY), not at the next poll.
@Suite struct ChangeNotificationTests {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() { lock.lock(); value += 1; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }

        /// Waits until the count reaches `target`; the seconds it took, or nil after `timeout`. It sleeps without
        /// holding a thread: the watcher runs on the same small pool of threads as this test.
        func wait(for target: Int, timeout: TimeInterval = 120) async -> TimeInterval? {
            let start = Date()
            while count < target {
                if Date().timeIntervalSince(start) > timeout { return nil }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return Date().timeIntervalSince(start)
        }
    }

    @Test func anotherReplicasQueueChangeWakesTheWatcherAtOnce() async throws {
        let f = try QueueFixture(store: .postgres)
        let replica = try #require(try f.anotherStore() as? any ChangeNotifying)
        let heard = Counter()
        let watcher = replica.watchChanges { heard.increment() }
        defer { watcher.cancel() }
        #expect(await heard.wait(for: 1) != nil, "a (re)connection is announced: the caller polls once")

        try f.reconcile()  // queues two changes in another connection
        // The watcher does not poll: hearing the change at all means the notification reached it. (How soon depends on
        // a free thread; the whole test suite competes for two.)
        #expect(await heard.wait(for: 2) != nil, "the queue change was heard")
        let afterQueue = heard.count

        // Renewing a lease is not a change anyone needs to act on.
        let change = try #require(try f.active("plant-a"))
        _ = try f.approve(change, as: "mgr-plant-a")
        #expect(await heard.wait(for: afterQueue + 1) != nil, "an approval is heard")
        let settled = heard.count
        #expect(try !f.store.renewLease(changeID: change.id, token: 1))
        try await Task.sleep(for: .milliseconds(300))
        #expect(heard.count == settled)

        watcher.cancel()
        await watcher.value
    }
}
