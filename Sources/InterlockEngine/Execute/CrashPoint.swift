import Foundation

/// Named moments of an apply at which a test can have the process killed (`INTERLOCK_TEST_CRASH_AT=<name>:<n>`: at
/// the n-th time `<name>` is reached the process sends itself SIGKILL), to prove that recovery after a crash at any
/// of them leaves the site all-old or all-new and records which. Without the variable nothing happens.
public enum CrashPoint {
    private static let target: (name: String, count: Int)? = {
        guard let text = ProcessInfo.processInfo.environment["INTERLOCK_TEST_CRASH_AT"] else { return nil }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let count = Int(parts[1]), count > 0 else { return nil }
        return (String(parts[0]), count)
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var seen: [String: Int] = [:]

    /// Marks that `name` was reached (`number`, when given, is the ordinal to match; else the visits are counted).
    public static func reached(_ name: String, _ number: Int? = nil) {
        guard let target, target.name == name else { return }
        lock.lock()
        let count = number ?? ((seen[name] ?? 0) + 1)
        seen[name] = count
        lock.unlock()
        if count == target.count { kill(getpid(), SIGKILL) }
    }
}
