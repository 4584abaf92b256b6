import Foundation

/// Slows down password guessing. Failed sign-ins (and failed signature passwords) are counted per
/// account and per client address within `window`: an account with `maximumFailures` failures is locked
/// for `lockout`, whatever password comes next; an address with `maximumAddressFailures` is refused too.
public final class LoginThrottle: Sendable {
    public let maximumFailures: Int
    public let maximumAddressFailures: Int
    public let window: TimeInterval
    public let lockout: TimeInterval

    private struct Record {
        var failures: [Date] = []
        var lockedUntil: Date?
    }

    private let accounts = Locked<[String: Record]>([:])
    private let addresses = Locked<[String: Record]>([:])

    public init(maximumFailures: Int = 5, maximumAddressFailures: Int = 20, window: TimeInterval = 15 * 60, lockout: TimeInterval = 15 * 60) {
        self.maximumFailures = maximumFailures
        self.maximumAddressFailures = maximumAddressFailures
        self.window = window
        self.lockout = lockout
    }

    /// Until when the account or address is locked, if it is.
    public func lockedUntil(account: String, address: String, now: Date = Date()) -> Date? {
        let a = accounts.withLock { $0[account]?.lockedUntil.flatMap { $0 > now ? $0 : nil } }
        let b = addresses.withLock { $0[address]?.lockedUntil.flatMap { $0 > now ? $0 : nil } }
        return [a, b].compactMap { $0 }.max()
    }

    /// Counts a failure; returns true when this failure locked the account.
    @discardableResult
    public func recordFailure(account: String, address: String, now: Date = Date()) -> Bool {
        func count(_ table: Locked<[String: Record]>, _ key: String, _ limit: Int) -> Bool {
            table.withLock { all in
                var record = all[key] ?? Record()
                record.failures = record.failures.filter { now.timeIntervalSince($0) < window } + [now]
                var locked = false
                if record.failures.count >= limit, (record.lockedUntil ?? .distantPast) <= now {
                    record.lockedUntil = now.addingTimeInterval(lockout)
                    record.failures = []
                    locked = true
                }
                all[key] = record
                if all.count > 10_000 { all = all.filter { $0.value.lockedUntil.map { $0 > now } ?? false } }
                return locked
            }
        }
        _ = count(addresses, address, maximumAddressFailures)
        return count(accounts, account, maximumFailures)
    }

    /// A successful sign-in clears the account's failures (not the address's).
    public func recordSuccess(account: String) {
        accounts.withLock { $0[account] = nil }
    }
}
