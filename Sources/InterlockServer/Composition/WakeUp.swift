import Foundation

/// A wake-up call for a loop that sleeps between rounds: `signal` from any thread or task; `sleep(upTo:)` returns as
/// soon as it is signalled (or when it was signalled since the last sleep), at the deadline, or when its task is
/// cancelled. Signals coalesce: a burst of them ends one sleep.
final class WakeUp: Sendable {
    private struct State {
        var pending = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waits that have an id but no continuation yet, and those among them cancelled meanwhile.
        var registering: Set<UInt64> = []
        var cancelled: Set<UInt64> = []
        var next: UInt64 = 0
    }

    private let state = Locked(State())

    func signal() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Sleeps up to `duration`; returns early when signalled. Whether a signal ended it.
    @discardableResult
    func sleep(upTo duration: Duration) async -> Bool {
        if state.withLock({ state in defer { state.pending = false }; return state.pending }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { try? await Task.sleep(for: duration); return false }
            group.addTask { await self.waitForSignal(); return !Task.isCancelled }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Waits until signalled or cancelled.
    private func waitForSignal() async {
        let id = state.withLock { state in
            defer { state.next += 1 }
            state.registering.insert(state.next)
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    state.registering.remove(id)
                    if state.cancelled.remove(id) != nil { return true }
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                // Not registered yet: it resumes itself when it registers. Neither: a signal resumed it already.
                if state.registering.contains(id) { state.cancelled.insert(id) }
                return nil
            }
            waiter?.resume()
        }
    }
}
