/// The history questions a rollout asks of the desired-state repository.
public protocol CommitGraph: Sendable {
    /// Whether `descendant` contains `ancestor` (a commit contains itself).
    func contains(_ ancestor: String, in descendant: String) -> Bool
}

/// A commit graph that only knows that a commit contains itself — for desired state read from a
/// working tree, which has no history.
public struct FlatCommitGraph: CommitGraph {
    public init() {}
    public func contains(_ ancestor: String, in descendant: String) -> Bool { ancestor == descendant }
}
