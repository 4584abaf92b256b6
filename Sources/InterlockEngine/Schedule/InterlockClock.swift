import Foundation

/// Where time-dependent code reads "now". Maintenance windows, freezes, bake times and expiries all take one,
/// so tests can stand at any instant (01:59:59 on a DST night) instead of waiting for it.
public protocol InterlockClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The real clock of the machine.
public struct SystemClock: InterlockClock {
    public init() {}

    public func now() -> Date { Date() }
}

/// A clock that stands still until a test moves it. Safe to share between threads.
public final class TestClock: InterlockClock, @unchecked Sendable {
    /// A timestamp given to `TestClock(iso8601:)` that is not ISO 8601 with an explicit offset.
    public struct InvalidTimestamp: Error, Sendable, CustomStringConvertible {
        public var text: String
        public var description: String {
            "'\(text)' is not an ISO 8601 timestamp with an offset, e.g. 2026-03-29T01:59:59+01:00 or 2026-03-29T00:59:59Z"
        }
    }

    private let lock = NSLock()
    private var current: Date

    /// A clock standing at `date`.
    public init(_ date: Date) { current = date }

    /// A clock standing at an ISO 8601 timestamp with an explicit offset (`2026-03-29T03:00:00+02:00`).
    public convenience init(iso8601 text: String) throws {
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else { throw InvalidTimestamp(text: text) }
        self.init(date)
    }

    public func now() -> Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Moves the clock to `date` (forwards or backwards).
    public func set(_ date: Date) {
        lock.lock()
        defer { lock.unlock() }
        current = date
    }

    /// Moves the clock by `seconds` of elapsed time (negative moves it back).
    public func advance(by seconds: TimeInterval) {
        lock.lock()
        defer { lock.unlock() }
        current = current.addingTimeInterval(seconds)
    }
}
