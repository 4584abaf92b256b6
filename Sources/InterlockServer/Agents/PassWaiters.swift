import Foundation

/// The long polls waiting for a reconcile pass: one ticker for all of them (every ``tick``), not a timer per
/// waiting agent, so a thousand idle agents cost the server a list of continuations.
final class PassWaiters: @unchecked Sendable {
    private struct Waiter {
        var seen: Int
        var deadline: Date
        var continuation: CheckedContinuation<Void, Never>
    }

    static let tick: Duration = .milliseconds(100)
    private let lock = NSLock()
    private var waiters: [UInt64: Waiter] = [:]
    private var next: UInt64 = 0
    private var ticker: Task<Void, Never>?
    private let passes: @Sendable () -> Int

    init(passes: @escaping @Sendable () -> Int) {
        self.passes = passes
    }

    deinit { ticker?.cancel() }

    /// Returns once a pass other than `seen` has run, or at `deadline`, whichever comes first.
    func wait(after seen: Int, until deadline: Date) async {
        guard passes() == seen, Date() < deadline else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            next += 1
            waiters[next] = Waiter(seen: seen, deadline: deadline, continuation: continuation)
            if ticker == nil {
                ticker = Task.detached { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: PassWaiters.tick)
                        guard let self else { return }
                        self.wake()
                    }
                }
            }
            lock.unlock()
        }
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiters.count
    }

    /// Resumes every waiter whose pass has come or whose deadline has passed.
    private func wake() {
        let pass = passes(), now = Date()
        lock.lock()
        var due: [CheckedContinuation<Void, Never>] = []
        for (key, waiter) in waiters where waiter.seen != pass || waiter.deadline <= now {
            due.append(waiter.continuation)
            waiters[key] = nil
        }
        lock.unlock()
        for continuation in due { continuation.resume() }
    }
}
