import Foundation

/// Details every record this process appends carries (e.g. `rehearsal` while gates run on a simulated clock), so
/// that nothing done under such a condition can be read as ordinary operation.
public enum AuditAnnotations {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var values: [String: String] = [:]

    /// Sets (or with nil removes) a detail added to every record appended from now on.
    public static func set(_ key: String, _ value: String?) {
        lock.lock()
        defer { lock.unlock() }
        values[key] = value
    }

    static var current: [String: String] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}
