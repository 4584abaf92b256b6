import Foundation

/// The commits of the desired-state repository between two points, for the four-eyes rule: nobody who wrote or
/// committed any commit a change carries may approve it.
public protocol CommitHistory: Sendable {
    /// The commits reachable from `head` but not from `base` (all of `head`'s history when `base` is nil), newest
    /// first, at most `limit`; nil when the history cannot be read (a working tree has none).
    func commits(from base: String?, to head: String, limit: Int) -> [CommitIdentity]?
}

extension CommitHistory {
    /// How many commits a change lists at most (a first deployment of a long history carries its newest ones).
    public static var changeCommitLimit: Int { 1000 }
}
