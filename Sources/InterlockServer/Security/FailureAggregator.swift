import Foundation

/// Keeps unauthenticated failures (wrong API tokens, failed sign-ins) from writing the audit log without bound. The
/// first failure of a caller in a window is recorded as it happens; the ones after it in the same window are
/// counted, and the count is recorded once (`access.failures.repeated`) when the window has passed. Lock events are
/// always recorded by the caller. At most `capacity` callers are tracked; beyond that they share one count.
final class FailureAggregator: Sendable {
    struct Key: Hashable, Sendable {
        var action: String
        var subject: String
    }

    struct Counted: Sendable {
        var key: Key
        var address: String
        var started: Date
        var last: Date
        /// Failures after the recorded first one.
        var count: Int
    }

    enum Decision: Sendable {
        case record
        case count
    }

    let window: TimeInterval
    let capacity: Int
    private let state = Locked<(entries: [Key: Counted], swept: Date)>(([:], .distantPast))

    init(window: TimeInterval = 600, capacity: Int = 10_000) {
        self.window = window
        self.capacity = capacity
    }

    /// Notes one failure; says whether to record it, and hands back the counts of windows that have passed.
    func note(action: String, subject: String, address: String, now: Date) -> (Decision, due: [Counted]) {
        state.withLock { state in
            var due: [Counted] = []
            if now.timeIntervalSince(state.swept) >= 60 {
                for (key, entry) in state.entries where now.timeIntervalSince(entry.started) >= window {
                    state.entries[key] = nil
                    if entry.count > 0 { due.append(entry) }
                }
                state.swept = now
            }
            var key = Key(action: action, subject: String(subject.prefix(100)))
            if state.entries[key] == nil, state.entries.count >= capacity { key = Key(action: action, subject: "(many callers)") }
            if var entry = state.entries[key] {
                if now.timeIntervalSince(entry.started) < window {
                    entry.count += 1
                    entry.last = now
                    state.entries[key] = entry
                    return (.count, due)
                }
                if entry.count > 0 { due.append(entry) }
            }
            state.entries[key] = Counted(key: key, address: address, started: now, last: now, count: 0)
            return (.record, due)
        }
    }
}
